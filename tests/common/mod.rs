//! Test harness: start Cartwheel nodes (in-process or as real `cartwheel` processes), talk to
//! them over real TCP, and wait on conditions with deadlines instead of sleeping.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cartwheel::config::Config;
use cartwheel::node::NodeHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub mod cluster;
pub mod sim;

/// Polls `cond` until it is true or `deadline` passes (then panics with `what`).
pub async fn wait_until<F: FnMut() -> bool>(what: &str, deadline: Duration, mut cond: F) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An in-process node on a free loopback port with its own temporary data directory.
pub struct TestNode {
    pub handle: Option<NodeHandle>,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl TestNode {
    pub async fn start() -> TestNode {
        TestNode::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::for_test(dir.path());
        tweak(&mut cfg);
        let handle = NodeHandle::start(cfg).await.unwrap();
        let addr = handle.addr();
        TestNode { handle: Some(handle), addr, dir }
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    pub async fn raw(&self) -> Raw {
        Raw::connect(self.addr).await
    }

    pub async fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.stop().await;
        }
    }
}

/// A raw TCP client for byte-level protocol tests.
pub struct Raw {
    pub stream: TcpStream,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        Raw { stream: TcpStream::connect(addr).await.unwrap() }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads until exactly `expected` has arrived (or 5 s pass), and returns what came.
    pub async fn expect(&mut self, expected: &[u8]) {
        let got = self.read_at_least(expected.len()).await;
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(expected));
    }

    pub async fn read_at_least(&mut self, n: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < n {
            let mut buf = vec![0u8; 64 * 1024];
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut buf)).await {
                Ok(Ok(0)) | Err(_) => break,
                Ok(Ok(k)) => got.extend_from_slice(&buf[..k]),
                Ok(Err(_)) => break,
            }
        }
        got
    }

    /// True when the server closes the connection within 5 s.
    pub async fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1024];
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

/// A real `cartwheel` process (the binary cargo built for these tests).
pub struct Process {
    pub child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
}

/// Where a test process's output (log and errors) goes: `stderr.log` in its data dir, appended across
/// restarts, so a failing test can show it ([`log_tail`]).
fn log_file(dir: &Path) -> Stdio {
    let _ = std::fs::create_dir_all(dir);
    match std::fs::OpenOptions::new().create(true).append(true).open(dir.join("stderr.log")) {
        Ok(f) => Stdio::from(f),
        Err(_) => Stdio::null(),
    }
}

/// The last `lines` lines of the log of the process whose data dir is `dir`.
pub fn log_tail(dir: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Each thread of process `pid` as `name:state:kernel wait channel`, to tell a hung start from a
/// slow one.
fn threads(pid: u32) -> String {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return String::new() };
    let mut out = Vec::new();
    for t in tasks.flatten() {
        let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap_or_default().trim().to_string();
        let state = read("stat").rsplit(')').next().unwrap_or("").split_whitespace().next().unwrap_or("?").to_string();
        out.push(format!("{}:{}:{}", read("comm"), state, read("wchan")));
    }
    out.join(", ")
}

/// A port for a test server, from 20000–32767: *below* the kernel's ephemeral range
/// (32768–60999), so no outgoing connection can be given it between now and the server's bind.
/// (Ports from `bind(…:0)` are ephemeral ones; once nodes dialled from their own 127.0.0.x
/// addresses, a restarting node sometimes found its port taken — "cannot listen on …: Address
/// already in use".) Each test process starts at its own offset and never hands a port out twice;
/// a port some other socket holds on any address is skipped.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_768;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = std::process::id().wrapping_mul(2_654_435_761) % SPAN;
    for _ in 0..SPAN {
        let port = (LOW + (offset + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN) as u16;
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN)
}

impl Process {
    pub async fn start(dir: &Path, port: u16, extra: &[&str]) -> Process {
        Process::start_at("127.0.0.1", port, dir, extra).await
    }

    /// Starts the binary bound to `ip:port` (extra flags after `--port --dir --bind`).
    pub async fn start_at(ip: &str, port: u16, dir: &Path, extra: &[&str]) -> Process {
        let child = Command::new(env!("CARGO_BIN_EXE_cartwheel"))
            .args(["--port", &port.to_string(), "--dir", dir.to_str().unwrap(), "--bind", ip])
            .args(extra)
            .stdout(log_file(dir))
            .stderr(log_file(dir))
            .spawn()
            .unwrap();
        let mut p = Process { child: Some(child), port, dir: dir.to_path_buf() };
        let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        let start = Instant::now();
        loop {
            if let Ok(mut s) = TcpStream::connect(addr).await {
                if s.write_all(b"PING\r\n").await.is_ok() {
                    let mut b = [0u8; 7];
                    if s.read_exact(&mut b).await.is_ok() && &b == b"+PONG\r\n" {
                        break;
                    }
                }
            }
            if start.elapsed() >= Duration::from_secs(20) {
                let state = match p.child.as_mut().map(|c| (c.id(), c.try_wait())) {
                    Some((_, Ok(Some(status)))) => format!("{status}"),
                    Some((pid, _)) => format!("running as {pid}; threads: {}", threads(pid)),
                    None => "no child".to_string(),
                };
                panic!("cartwheel did not start on {addr} ({state}); log tail:\n{}", log_tail(dir, 20));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        p
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Empties a stopped node's data directory but for its identity: `node.id`, its restart counter
/// and its dot-counter lease (a node must never issue a version counter twice) — a replaced disk.
pub fn empty_but_identity(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if ["node.id", "node.generation", "dots.lease"].iter().any(|k| entry.file_name() == *k) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
}

/// Polls `check` until it is true or `secs` pass (then panics with `what`).
pub async fn eventually<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `INFO cluster` of the node at `url`, as `field → value`.
pub async fn info_cluster(url: &str) -> std::collections::HashMap<String, String> {
    let mut c = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let text: String = redis::cmd("INFO").arg("cluster").query_async(&mut c).await.unwrap();
    text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_string(), v.trim().to_string())).collect()
}

/// Sends `SET` through `url` every 100 ms for `secs` seconds; panics at the first one that does not
/// answer `-TRYAGAIN` (a node that must not coordinate).
pub async fn refuses_for(url: &str, secs: u64) {
    let mut c = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let until = Instant::now() + Duration::from_secs(secs);
    let mut n = 0;
    while Instant::now() < until {
        match redis::cmd("SET").arg(format!("alone:{n}")).arg("x").query_async::<()>(&mut c).await {
            Err(e) if e.code() == Some("TRYAGAIN") => {}
            other => panic!("write {n} through a node that must not coordinate: {other:?}"),
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
