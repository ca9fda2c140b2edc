//! `cartwheel demo --nodes 3`: a local cluster of real processes to try Cartwheel with.
//!
//! Starts `--nodes` copies of this very binary on 127.0.0.1, client ports `--base-port`,
//! `--base-port + 1`, … (cluster ports + 10000), data under `--dir/node<i>`, all sharing a fresh
//! random cluster secret and seeded from the first node; waits until each answers `PING`, prints
//! how to connect, and stops them all (SIGTERM, then SIGKILL after 10 s) on Ctrl-C. A node that
//! dies is reported and the others keep running (try `kill -9` on one).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
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
    let exe = std::env::current_exe().context("locating the cartwheel binary")?;
    let secret: String = (0..32).map(|_| fastrand::alphanumeric()).collect();
    let replicas = args.replicas.clamp(1, usize::from(args.nodes));
    let quorum = replicas / 2 + 1;
    let seed = format!("127.0.0.1:{}", u32::from(args.base_port) + 10000);
    let mut children: Vec<(u16, Child)> = Vec::new();
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
        let child = cmd.spawn().with_context(|| format!("starting node {} on port {port}", i + 1))?;
        children.push((port, child));
    }
    let started = Instant::now();
    for (port, _) in &children {
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
    let stop = stop_signal()?;
    loop {
        if stop.try_recv().is_ok() {
            break;
        }
        // A node that exits (say, `kill -9` to watch the others carry on) is reported and left
        // down; the demo ends when every node is gone.
        children.retain_mut(|(port, c)| match c.try_wait() {
            Ok(Some(status)) => {
                eprintln!("node on port {port} exited ({status})");
                false
            }
            _ => true,
        });
        if children.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop_all(&mut children);
    Ok(())
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

/// A channel that receives one message on SIGINT or SIGTERM.
fn stop_signal() -> anyhow::Result<std::sync::mpsc::Receiver<()>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::spawn(move || {
        rt.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            if let Ok(mut term) = signal(SignalKind::terminate()) {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            } else {
                let _ = tokio::signal::ctrl_c().await;
            }
        });
        let _ = tx.send(());
    });
    Ok(rx)
}

fn stop_all(children: &mut [(u16, Child)]) {
    for (_, c) in children.iter() {
        // SIGTERM: each node shuts down gracefully.
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
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
}
