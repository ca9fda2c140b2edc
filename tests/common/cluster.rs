//! A cluster of real `cartwheel` processes on loopback addresses 127.0.0.2, 127.0.0.3, …, each
//! with its own data directory, seeded from the first node, gossiping fast so tests converge in
//! seconds. Stopped (SIGKILL, by PID) when dropped, whatever the test did.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{free_port, log_tail, Process};

/// Settings every test node shares.
pub const SECRET: &str = "test-secret";

/// One node's fixed identity across restarts.
pub struct Slot {
    pub ip: String,
    pub port: u16,
    pub cluster_port: u16,
    pub dir: PathBuf,
    pub config: PathBuf,
}

pub struct ProcessCluster {
    pub slots: Vec<Slot>,
    pub procs: Vec<Option<Process>>,
    _root: tempfile::TempDir,
}

impl ProcessCluster {
    /// Starts `n` nodes with `extra` TOML lines in every node's config, gossiping fast (every
    /// 200 ms, a member suspected after 1.5 s) so that tests converge in seconds.
    pub async fn start(n: usize, extra: &str) -> ProcessCluster {
        let fast = "gossip-interval-ms = 200\nsuspect-after-ms = 1500\nrpc-timeout-ms = 1000\n";
        ProcessCluster::start_with(n, &format!("{fast}{extra}")).await
    }

    /// Starts `n` nodes as the README tells users to (the first without seeds, the others seeded
    /// by it) with the default timings, plus `extra` TOML lines.
    pub async fn start_as_users_do(n: usize, extra: &str) -> ProcessCluster {
        ProcessCluster::start_with(n, extra).await
    }

    async fn start_with(n: usize, settings: &str) -> ProcessCluster {
        let root = tempfile::tempdir().unwrap();
        let mut slots = Vec::new();
        for i in 0..n {
            let ip = format!("127.0.0.{}", i + 2);
            let (port, cluster_port) = (free_port(), free_port());
            let dir = root.path().join(format!("node{}", i + 1));
            std::fs::create_dir_all(&dir).unwrap();
            let seed = match slots.first() {
                Some(s) => {
                    let s: &Slot = s;
                    format!("seeds = [\"{}:{}\"]\n", s.ip, s.cluster_port)
                }
                None => String::new(),
            };
            let config = root.path().join(format!("node{}.toml", i + 1));
            let text = format!(
                "bind = [\"{ip}\"]\nport = {port}\ndir = \"{}\"\ncluster-enabled = true\ncluster-port = {cluster_port}\n\
                 cluster-secret = \"{SECRET}\"\nfsync = \"no\"\n{seed}{settings}\n",
                dir.display()
            );
            std::fs::write(&config, text).unwrap();
            slots.push(Slot { ip, port, cluster_port, dir, config });
        }
        let mut c = ProcessCluster { slots, procs: Vec::new(), _root: root };
        for i in 0..n {
            let p = c.spawn(i).await;
            c.procs.push(Some(p));
        }
        c.wait_converged(Duration::from_secs(30)).await;
        c
    }

    async fn spawn(&self, i: usize) -> Process {
        let s = &self.slots[i];
        Process::start_at(&s.ip, s.port, &s.dir, &["--config", s.config.to_str().unwrap()]).await
    }

    /// `redis://ip:port/` of node `i`.
    pub fn url(&self, i: usize) -> String {
        format!("redis://{}:{}/", self.slots[i].ip, self.slots[i].port)
    }

    pub async fn conn(&self, i: usize) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url(i)).unwrap().get_multiplexed_async_connection().await.unwrap()
    }

    pub fn kill9(&mut self, i: usize) {
        if let Some(mut p) = self.procs[i].take() {
            p.kill9();
        }
    }

    pub async fn restart(&mut self, i: usize) {
        let p = self.spawn(i).await;
        self.procs[i] = Some(p);
    }

    /// Waits until every running node sees every running node as healthy (and the others down
    /// or suspect).
    pub async fn wait_converged(&self, within: Duration) {
        let start = Instant::now();
        let running: Vec<usize> = (0..self.slots.len()).filter(|&i| self.procs[i].is_some()).collect();
        loop {
            let mut views = Vec::new();
            for &i in &running {
                let view = self.cluster_nodes(i).await;
                let healthy = view.as_deref().map(|t| t.lines().filter(|l| !l.contains("fail")).count());
                let ok = healthy == Some(running.len()) && self.ready(i).await;
                views.push((i, ok, view));
            }
            if views.iter().all(|(_, ok, _)| *ok) {
                return;
            }
            if start.elapsed() >= within {
                let mut report = String::new();
                for (i, ok, view) in views.into_iter().filter(|(_, ok, _)| !ok) {
                    let s = &self.slots[i];
                    report.push_str(&format!(
                        "\n--- node {} ({}:{}, cluster port {}), converged: {ok}\nCLUSTER NODES: {}\nlog tail:\n{}",
                        i + 1,
                        s.ip,
                        s.port,
                        s.cluster_port,
                        view.as_deref().unwrap_or("(no answer)"),
                        log_tail(&s.dir, 20)
                    ));
                }
                panic!("cluster did not converge within {within:?}{report}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `CLUSTER NODES` of node `i`.
    /// Whether node `i` coordinates (it answers a read instead of `TRYAGAIN`: it has joined and
    /// its peers' clocks have voted).
    pub async fn ready(&self, i: usize) -> bool {
        let Ok(client) = redis::Client::open(self.url(i)) else { return false };
        let Ok(mut c) = client.get_multiplexed_async_connection().await else { return false };
        redis::cmd("EXISTS").arg("readiness-probe").query_async::<i64>(&mut c).await.is_ok()
    }

    pub async fn cluster_nodes(&self, i: usize) -> Option<String> {
        let client = redis::Client::open(self.url(i)).ok()?;
        let mut c = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("CLUSTER").arg("NODES").query_async::<String>(&mut c).await.ok()
    }
}
