//! `cartwheel demo --nodes 3`: a local cluster of real processes to try Cartwheel with.
//!
//! Starts `--nodes` copies of this very binary on 127.0.0.1, client ports `--base-port`,
//! `--base-port + 1`, … (cluster ports + 10000), data under `--dir/node<i>`, all sharing a fresh
//! random cluster secret and seeded from the first node; waits until each answers `PING`, prints
//! how to connect, and stops them all (SIGTERM, then SIGKILL after 10 s) on Ctrl-C. A node that
//! dies is reported and the others keep running (try `kill -9` on one).
//!
//! The nodes never outlive the demo, however it ends: they run in a process group of their own
//! that the demo signals when it stops (Ctrl-C, SIGTERM, an error, a panic — a drop guard), and
//! each asks the kernel for SIGTERM when the demo dies (`PR_SET_PDEATHSIG`), which covers SIGKILL.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Options of `cartwheel demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: u16,
    /// Client port of the first node.
    #[arg(long, default_value_t = 7001)]
    pub base_port: u16,
    /// Directory holding every node's data.
    #[arg(long, default_value = "./demo-data")]
    pub dir: PathBuf,
    /// Replicas per key (N); R and W default to a majority of it.
    #[arg(long, default_value_t = 3)]
    pub replicas: usize,
}

/// Runs the demo until Ctrl-C.
pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    if args.nodes == 0 || args.nodes > 32 {
        bail!("--nodes must be between 1 and 32");
    }
    // Before any thread exists: only the signal thread takes SIGINT/SIGTERM from here on.
    let stop = stop_signal()?;
    let exe = std::env::current_exe().context("locating the cartwheel binary")?;
    let secret: String = (0..32).map(|_| fastrand::alphanumeric()).collect();
    let replicas = args.replicas.clamp(1, usize::from(args.nodes));
    let quorum = replicas / 2 + 1;
    let seed = format!("127.0.0.1:{}", u32::from(args.base_port) + 10000);
    let mut children = Children { group: None, nodes: Vec::new() };
    for i in 0..args.nodes {
        let port = args.base_port + i;
        let dir = args.dir.join(format!("node{}", i + 1));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut cmd = Command::new(&exe);
        cmd.arg("--port").arg(port.to_string()).arg("--dir").arg(&dir).arg("--cluster");
        cmd.arg("--cluster-secret").arg(&secret).arg("--replicas").arg(replicas.to_string());
        cmd.arg("--read-quorum").arg(quorum.to_string()).arg("--write-quorum").arg(quorum.to_string());
        if i > 0 {
            cmd.arg("--seed").arg(&seed);
        }
        supervise(&mut cmd, children.group);
        let child = cmd.spawn().with_context(|| format!("starting node {} on port {port}", i + 1))?;
        children.group.get_or_insert(child.id());
        children.nodes.push((port, child));
    }
    let started = Instant::now();
    for (port, _) in &children.nodes {
        wait_for_ping(*port, Duration::from_secs(30)).with_context(|| format!("node on port {port} did not start"))?;
    }
    let last = args.base_port + args.nodes - 1;
    println!();
    println!(
        "Cartwheel demo: {} nodes up in {:.1} s (N={replicas}, R={quorum}, W={quorum}), data in {}",
        args.nodes,
        started.elapsed().as_secs_f64(),
        args.dir.display()
    );
    println!("  redis-cli -p {}                 # any node serves any key", args.base_port);
    println!("  redis-cli -c -p {}              # cluster mode: straight to each key's coordinator", args.base_port);
    println!("  redis-cli -p {last} cluster nodes");
    println!("  redis-cli -p {} kv.preflist mykey", args.base_port);
    println!("Ctrl-C stops every node.");
    loop {
        if stop.try_recv().is_ok() {
            break;
        }
        // A node that exits (say, `kill -9` to watch the others carry on) is reported and left
        // down; the demo ends when every node is gone.
        children.nodes.retain_mut(|(port, c)| match c.try_wait() {
            Ok(Some(status)) => {
                eprintln!("node on port {port} exited ({status})");
                false
            }
            _ => true,
        });
        if children.nodes.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Makes the node `cmd` starts die with the demo: SIGTERM when the demo's thread that started it
/// ends (`PR_SET_PDEATHSIG`; the demo starts every node from its main thread), and membership of
/// the nodes' process group `group` (a new group, led by the first node, when `None`).
fn supervise(cmd: &mut Command, group: Option<u32>) {
    let parent = std::process::id();
    cmd.process_group(group.map_or(0, |g| g as i32));
    // SAFETY: the closure runs in the child between fork and exec and only makes two
    // async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The demo may have died before the line above: then no signal would ever come.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::other("the demo exited while starting this node"));
            }
            Ok(())
        });
    }
}

/// The running nodes; dropping it stops them all, however `run` ends.
struct Children {
    /// Their process group (the first node's pid).
    group: Option<u32>,
    /// (client port, process).
    nodes: Vec<(u16, Child)>,
}

impl Drop for Children {
    fn drop(&mut self) {
        stop_all(self.group, &mut self.nodes);
    }
}

fn wait_for_ping(port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        let pong = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok().and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
            s.write_all(b"PING\r\n").ok()?;
            let mut buf = [0u8; 7];
            s.read_exact(&mut buf).ok()?;
            Some(&buf == b"+PONG\r\n")
        });
        if pong == Some(true) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("no PONG on port {port}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A channel that receives a message on every SIGINT or SIGTERM (taken on the signal thread).
fn stop_signal() -> anyhow::Result<std::sync::mpsc::Receiver<()>> {
    let (tx, rx) = std::sync::mpsc::channel();
    crate::signals::block()
        .context("blocking SIGINT and SIGTERM")?
        .spawn(move |_, _| {
            let _ = tx.send(());
        })
        .context("starting the signal thread")?;
    Ok(rx)
}

fn stop_all(group: Option<u32>, children: &mut [(u16, Child)]) {
    // SIGTERM: each node shuts down gracefully (the whole group, so none is missed).
    // One SIGTERM each: a second one would cut the graceful stop short.
    match group {
        // SAFETY: killpg only sends a signal.
        Some(g) => unsafe {
            libc::killpg(g as i32, libc::SIGTERM);
        },
        None => {
            for (_, c) in children.iter() {
                // SAFETY: kill only sends a signal.
                unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for (port, c) in children.iter_mut() {
        while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if c.try_wait().ok().flatten().is_none() {
            eprintln!("node on port {port} did not stop in time; killing it");
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    if let Some(g) = group {
        // SAFETY: killpg only sends a signal. Whatever is left of the group (nothing, normally).
        unsafe { libc::killpg(g as i32, libc::SIGKILL) };
    }
}
