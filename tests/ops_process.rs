//! Stopping real `cartwheel` processes, whatever their surroundings: a node whose log pipe was
//! closed (`cartwheel | tee log`, then the `tee` dies) still stops on SIGTERM and `SHUTDOWN`; a
//! second SIGTERM ends a slow graceful stop at once; a graceful stop stuck past
//! `shutdown-timeout-ms` exits with status 2; and `cartwheel demo` takes its nodes with it even
//! when it is killed with SIGKILL.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::free_port;

/// A `cartwheel` process whose stdout and stderr are pipes; [`Node::close_log_pipe`] drops their
/// read ends, so every later log write fails with EPIPE.
struct Node {
    child: Child,
    port: u16,
}

impl Node {
    fn start(dir: &Path, extra: &[&str]) -> Node {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_cartwheel"))
            .args(["--port", &port.to_string(), "--dir", dir.to_str().unwrap(), "--fsync", "no"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut node = Node { child, port };
        let start = Instant::now();
        while !pong(port) {
            assert!(node.child.try_wait().unwrap().is_none(), "cartwheel exited during start");
            assert!(start.elapsed() < Duration::from_secs(20), "cartwheel did not answer PING on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        node
    }

    fn close_log_pipe(&mut self) {
        drop(self.child.stdout.take());
        drop(self.child.stderr.take());
    }

    fn signal(&self, sig: i32) {
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.child.id());
    }

    /// Waits for the process to exit within `within`; `None` if it is still running then.
    fn exited_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if start.elapsed() >= within {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Verbose connections: every accepted client is a debug log line.
    fn make_log_noise(&self) {
        for _ in 0..20 {
            let _ = pong(self.port);
        }
    }

    /// A client that asks for far more than the socket buffers hold and never reads: the node's
    /// connection task blocks writing, so a graceful stop cannot finish until it gives up.
    fn stall_with_unread_replies(&self) -> TcpStream {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut s = TcpStream::connect(addr).unwrap();
        let value = vec![b'x'; 4 << 20];
        let mut set = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n", value.len()).into_bytes();
        set.extend_from_slice(&value);
        set.extend_from_slice(b"\r\n");
        s.write_all(&set).unwrap();
        let mut ok = [0u8; 5];
        s.read_exact(&mut ok).unwrap();
        assert_eq!(&ok, b"+OK\r\n");
        s.write_all(&b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n".repeat(64)).unwrap();
        // Once a first 4 MB reply went out the whole pipelined batch is being answered.
        let start = Instant::now();
        while info_field(self.port, "total_net_output_bytes").is_none_or(|b| b < 4 << 20) {
            assert!(start.elapsed() < Duration::from_secs(10), "the node never started answering the GETs");
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pong(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut b = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut b).is_ok() && &b == b"+PONG\r\n"
}

/// One numeric field of `INFO` over a fresh connection.
fn info_field(port: u16, field: &str) -> Option<u64> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"INFO\r\n").ok()?;
    // A bulk string: `$<len>\r\n<text>\r\n`.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") {
        s.read_exact(&mut byte).ok()?;
        head.push(byte[0]);
    }
    let len: usize = std::str::from_utf8(&head[1..head.len() - 2]).ok()?.parse().ok()?;
    let mut text = vec![0u8; len];
    s.read_exact(&mut text).ok()?;
    let text = String::from_utf8_lossy(&text);
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).and_then(|v| v.trim().parse().ok())
}

#[test]
fn sigterm_stops_a_node_whose_log_pipe_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(dir.path(), &["--loglevel", "debug"]);
    node.close_log_pipe();
    node.make_log_noise();
    node.signal(libc::SIGTERM);
    let status = node.exited_within(Duration::from_secs(5));
    assert!(status.is_some(), "the node ignored SIGTERM once its log pipe was closed");
    assert_eq!(status.unwrap().code(), Some(0), "a graceful stop exits 0");
}

#[test]
fn shutdown_and_sigint_stop_a_node_whose_log_pipe_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(dir.path(), &["--loglevel", "debug"]);
    node.close_log_pipe();
    node.make_log_noise();
    let mut s = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], node.port))).unwrap();
    s.write_all(b"SHUTDOWN\r\n").unwrap();
    assert!(node.exited_within(Duration::from_secs(5)).is_some(), "SHUTDOWN was ignored with a closed log pipe");

    let mut node = Node::start(dir.path(), &["--loglevel", "debug"]);
    node.close_log_pipe();
    node.make_log_noise();
    node.signal(libc::SIGINT);
    assert!(node.exited_within(Duration::from_secs(5)).is_some(), "SIGINT was ignored with a closed log pipe");
}

#[test]
fn a_second_sigterm_ends_a_slow_graceful_stop_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(dir.path(), &[]);
    let _stalled = node.stall_with_unread_replies();
    node.signal(libc::SIGTERM);
    // The graceful stop now waits for the stalled connection (up to shutdown-timeout-ms, 10 s).
    let start = Instant::now();
    while pong(node.port) {
        assert!(start.elapsed() < Duration::from_secs(5), "the node kept accepting clients after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(node.child.try_wait().unwrap().is_none(), "the stalled connection should hold the graceful stop");
    node.signal(libc::SIGTERM);
    let status = node.exited_within(Duration::from_secs(3));
    assert!(status.is_some(), "a second SIGTERM must exit at once");
    assert_eq!(status.unwrap().code(), Some(128 + libc::SIGTERM), "an interrupted stop exits 128 + signal");
}

#[test]
fn a_stuck_graceful_stop_exits_with_status_2_after_shutdown_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(dir.path(), &["--shutdown-timeout-ms", "1000"]);
    let _stalled = node.stall_with_unread_replies();
    node.signal(libc::SIGTERM);
    let status = node.exited_within(Duration::from_secs(6)).expect("the watchdog ends a stuck stop");
    assert_eq!(status.code(), Some(2), "a stop that timed out exits 2 ({status:?})");
}

/// The pids of `parent`'s children, from `/proc`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
            out.push(pid);
        }
    }
    out
}

/// Whether `pid` still runs (a zombie waiting for its new parent to reap it does not).
fn running(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().next().map(str::to_string));
    matches!(state.as_deref(), Some(s) if s != "Z" && s != "X")
}

/// Kills whatever is left of the given pids when the test ends, pass or fail.
struct Reaper(Vec<u32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in &self.0 {
            if running(*pid) {
                unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
            }
        }
    }
}

/// A base port whose next port and both cluster ports (+10000) are free.
fn demo_ports() -> u16 {
    loop {
        let base = free_port();
        let free = |p: u32| u16::try_from(p).is_ok_and(|p| std::net::TcpListener::bind(("0.0.0.0", p)).is_ok());
        let b = u32::from(base);
        if [b + 1, b + 10000, b + 10001].into_iter().all(free) {
            return base;
        }
    }
}

#[test]
fn sigkill_of_demo_takes_its_nodes_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = demo_ports();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_cartwheel"))
        .args(["demo", "--nodes", "2", "--replicas", "2", "--base-port", &base.to_string()])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !(pong(base) && pong(base + 1)) {
        assert!(demo.try_wait().unwrap().is_none(), "demo exited during start");
        assert!(start.elapsed() < Duration::from_secs(30), "the demo nodes did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let nodes = children_of(demo.id());
    let _reaper = Reaper(nodes.clone());
    assert_eq!(nodes.len(), 2, "demo runs one process per node");
    demo.kill().unwrap();
    demo.wait().unwrap();
    let start = Instant::now();
    while nodes.iter().any(|&pid| running(pid)) || pong(base) || pong(base + 1) {
        assert!(start.elapsed() < Duration::from_secs(10), "demo's nodes outlived it: {nodes:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn lost_log_lines_are_counted_in_info() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(dir.path(), &["--loglevel", "debug"]);
    node.close_log_pipe();
    let start = Instant::now();
    loop {
        node.make_log_noise();
        if info_field(node.port, "log_write_errors").is_some_and(|n| n > 0) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "failed log writes are not counted in INFO");
    }
    assert!(info_field(node.port, "log_dropped").is_some(), "INFO cartwheel has log_dropped");
}

#[test]
fn a_node_refuses_a_data_directory_of_a_newer_format_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("FORMAT"), "cartwheel data format 99\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cartwheel"))
        .args(["--port", &free_port().to_string(), "--dir", dir.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("a node on a format-99 directory did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut said = String::new();
    child.stderr.take().unwrap().read_to_string(&mut said).unwrap();
    child.stdout.take().unwrap().read_to_string(&mut said).unwrap();
    assert!(!status.success(), "exit status {status}");
    assert!(said.contains("data format 99") && said.contains("newer Cartwheel"), "what it said:\n{said}");
    assert!(!dir.path().join("fjall").exists(), "nothing was opened or created in the directory");
    assert_eq!(std::fs::read_to_string(dir.path().join("FORMAT")).unwrap(), "cartwheel data format 99\n");
}
