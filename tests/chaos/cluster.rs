//! The cluster runner: `n` real `cartwheel` processes, node `i` on its own loopback address
//! 127.0.0.(i+2) with its own data directory and log file, started the way the README tells users
//! to: the first node without seeds, every other node seeded by the first one only. A restart
//! uses the same configuration (the first node comes back without seeds too).
//!
//! Processes are started with `PR_SET_PDEATHSIG = SIGKILL`, so they die with the harness even if
//! the harness itself is killed, and are stopped by PID ([`Cluster::stop_all`], also on drop).
//! Each node runs under libfaketime when it is installed, with its clock offset read from a file
//! the clock-skew nemesis rewrites ([`Cluster::set_skew`]); the monotonic clock is left alone, so
//! only wall-clock time (HLC timestamps, expiry) is skewed.

use std::fs::{self, OpenOptions};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;

/// Where Debian's libfaketime package puts the multi-threaded variant.
const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
/// The cluster secret of every chaos cluster.
const SECRET: &str = "chaos-secret";

/// One node: fixed identity across restarts, and its process when running.
pub struct NodeProc {
    pub ip: String,
    pub port: u16,
    pub cluster_port: u16,
    pub dir: PathBuf,
    config: PathBuf,
    skew_file: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    paused: bool,
}

impl NodeProc {
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self) -> String {
        format!("redis://{}:{}/", self.ip, self.port)
    }
}

/// The processes of one run.
pub struct Cluster {
    pub nodes: Vec<NodeProc>,
    pub root: PathBuf,
    bin: PathBuf,
    faketime: bool,
}

impl Cluster {
    /// Lays out `n` nodes under `root` (configs, data dirs, skew files); starts nothing.
    /// `extra` is appended to every node's TOML config.
    pub fn create(root: &Path, n: usize, bin: &Path, extra: &str) -> Result<Cluster, String> {
        let faketime = Path::new(FAKETIME_LIB).exists();
        let mut nodes = Vec::new();
        for i in 0..n {
            let ip = format!("127.0.0.{}", i + 2);
            let (port, cluster_port) = free_ports(&ip)?;
            let dir = root.join(format!("node{}", i + 1));
            fs::create_dir_all(dir.join("data")).map_err(|e| format!("create {}: {e}", dir.display()))?;
            let skew_file = dir.join("clock-offset");
            fs::write(&skew_file, "+0\n").map_err(|e| e.to_string())?;
            nodes.push(NodeProc {
                ip,
                port,
                cluster_port,
                config: dir.join("cartwheel.toml"),
                log: dir.join("node.log"),
                dir,
                skew_file,
                child: None,
                paused: false,
            });
        }
        for (i, node) in nodes.iter().enumerate() {
            let seeds: Vec<String> =
                nodes.iter().take(usize::from(i > 0)).map(|o| format!("\"{}:{}\"", o.ip, o.cluster_port)).collect();
            let text = format!(
                "bind = [\"{ip}\"]\nport = {port}\ndir = \"{dir}\"\ncluster-enabled = true\ncluster-port = {cport}\n\
                 cluster-secret = \"{SECRET}\"\nseeds = [{seeds}]\n{extra}\n",
                ip = node.ip,
                port = node.port,
                dir = node.dir.join("data").display(),
                cport = node.cluster_port,
                seeds = seeds.join(", "),
            );
            fs::write(&node.config, text).map_err(|e| e.to_string())?;
        }
        Ok(Cluster { nodes, root: root.to_path_buf(), bin: bin.to_path_buf(), faketime })
    }

    /// Whether clock skew can be injected (libfaketime is installed).
    pub fn can_skew(&self) -> bool {
        self.faketime
    }

    /// Starts node `i` (no-op when it runs).
    pub fn start(&mut self, i: usize) -> Result<(), String> {
        let faketime = self.faketime;
        let node = &mut self.nodes[i];
        if node.child.is_some() {
            return Ok(());
        }
        let log = OpenOptions::new().create(true).append(true).open(&node.log).map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--config").arg(&node.config).stdin(Stdio::null()).stdout(log).stderr(err);
        if faketime {
            cmd.env("LD_PRELOAD", FAKETIME_LIB)
                .env("FAKETIME_TIMESTAMP_FILE", &node.skew_file)
                .env("FAKETIME_CACHE_DURATION", "1")
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        // SAFETY: prctl is async-signal-safe; the child dies with this process, whatever happens.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
        node.child = Some(child);
        node.paused = false;
        Ok(())
    }

    /// `kill -9` node `i` and reaps it.
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        node.paused = false;
    }

    /// `SIGSTOP` node `i`.
    pub fn pause(&mut self, i: usize) {
        if let Some(pid) = self.nodes[i].pid() {
            signal(pid, libc::SIGSTOP);
            self.nodes[i].paused = true;
        }
    }

    /// `SIGCONT` node `i`.
    pub fn resume(&mut self, i: usize) {
        if let Some(pid) = self.nodes[i].pid() {
            signal(pid, libc::SIGCONT);
        }
        self.nodes[i].paused = false;
    }

    /// Offsets node `i`'s wall clock by `secs` (0 = true time); takes effect within a second.
    pub fn set_skew(&self, i: usize, secs: i64) -> Result<(), String> {
        let text = if secs >= 0 { format!("+{secs}s\n") } else { format!("{secs}s\n") };
        fs::write(&self.nodes[i].skew_file, text).map_err(|e| e.to_string())
    }

    /// Stops every process by PID (SIGCONT first for paused ones, then SIGKILL).
    pub fn stop_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.resume(i);
            self.kill(i);
        }
    }

    /// The last `lines` lines of node `i`'s log.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = fs::read_to_string(&self.nodes[i].log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Waits until every node runs, sees all others healthy (`CLUSTER NODES` without `fail`) and
    /// answers keyed commands (no `-TRYAGAIN`). Returns how long that took.
    pub async fn wait_healthy(&self, within: Duration) -> Result<Duration, String> {
        let start = Instant::now();
        let n = self.nodes.len();
        let mut last = String::new();
        while start.elapsed() < within {
            let mut ok = true;
            for node in &self.nodes {
                match node_health(node, n).await {
                    Ok(()) => {}
                    Err(e) => {
                        last = format!("{}: {e}", node.ip);
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                return Ok(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!("cluster not healthy within {within:?}; last: {last}"))
    }

    /// Sum over running nodes of an `INFO cartwheel` counter.
    pub async fn info_sum(&self, field: &str) -> Result<u64, String> {
        let mut total = 0;
        for node in &self.nodes {
            let mut c = connect(&node.url(), Duration::from_secs(2)).await?;
            let info: String = redis::cmd("INFO")
                .arg("cartwheel")
                .query_async(&mut c)
                .await
                .map_err(|e| format!("INFO on {}: {e}", node.ip))?;
            let prefix = format!("{field}:");
            let value = info.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse::<u64>().ok());
            total += value.ok_or_else(|| format!("no {field} in INFO of {}", node.ip))?;
        }
        Ok(total)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_all();
    }
}

async fn node_health(node: &NodeProc, n: usize) -> Result<(), String> {
    if !node.running() || node.paused() {
        return Err("not running".into());
    }
    let mut c = connect(&node.url(), Duration::from_secs(1)).await?;
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query_async(&mut c).await.map_err(|e| e.to_string())?;
    let healthy = nodes.lines().filter(|l| !l.contains("fail")).count();
    if healthy != n {
        return Err(format!("sees {healthy} of {n} nodes healthy"));
    }
    let _: Option<String> =
        redis::cmd("GET").arg("chaos:probe").query_async(&mut c).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// A client connection with a connect deadline and a per-request deadline.
pub async fn connect(url: &str, response: Duration) -> Result<MultiplexedConnection, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(response));
    let fut = client.get_multiplexed_async_connection_with_config(&cfg);
    match tokio::time::timeout(Duration::from_secs(2), fut).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(format!("connect {url}: {e}")),
        Err(_) => Err(format!("connect {url}: timed out")),
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: plain kill(2) on a PID this harness started and has not reaped.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Two distinct free ports on `ip` (both listeners are held until both are known).
fn free_ports(ip: &str) -> Result<(u16, u16), String> {
    let a = TcpListener::bind((ip, 0)).map_err(|e| format!("bind {ip}: {e}"))?;
    let b = TcpListener::bind((ip, 0)).map_err(|e| format!("bind {ip}: {e}"))?;
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string());
    Ok((port(&a)?, port(&b)?))
}

/// Creates a fresh empty directory (removing an old one).
pub fn fresh_dir(path: &Path) -> Result<(), String> {
    let _ = fs::remove_dir_all(path);
    fs::create_dir_all(path).map_err(|e| format!("create {}: {e}", path.display()))
}
