//! The simulated-network cluster harness: real nodes (fjall on disk, the whole command path) in
//! one process, whose node-to-node traffic goes through `SimNetwork`, so partitions, isolation and
//! restarts are switched on and off at will. Commands run as a client session would run them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cartwheel::clock::{Clock, SkewedClock};
use cartwheel::command::{Context, Session};
use cartwheel::config::Config;
use cartwheel::net::{Network, SimNetwork};
use cartwheel::node::NodeHandle;
use cartwheel::resp::clients::ClientEntry;
use cartwheel::resp::reply::Reply;
use cartwheel::router;
use cartwheel::storage::keys;
use cartwheel::version::NodeId;

use super::wait_until;

pub struct SimCluster {
    pub net: SimNetwork,
    nodes: Vec<Option<NodeHandle>>,
    cfgs: Vec<Config>,
    clocks: Vec<Arc<dyn Clock>>,
    ids: Vec<NodeId>,
    _dirs: Vec<tempfile::TempDir>,
}

pub fn addr(i: usize) -> SocketAddr {
    format!("10.0.0.{}:7000", i + 1).parse().unwrap()
}

impl SimCluster {
    pub async fn start(n: usize) -> SimCluster {
        SimCluster::start_with(n, |_| {}).await
    }

    /// `n` nodes whose configuration `tweak` adjusts.
    pub async fn start_with(n: usize, tweak: impl Fn(&mut Config)) -> SimCluster {
        SimCluster::start_skewed(n, tweak, &vec![0; n]).await
    }

    /// `n` nodes whose configuration `tweak` adjusts and whose wall clocks are off by
    /// `skew_ms[i]` milliseconds.
    pub async fn start_skewed(n: usize, tweak: impl Fn(&mut Config), skew_ms: &[i64]) -> SimCluster {
        assert_eq!(skew_ms.len(), n, "one skew per node");
        let net = SimNetwork::new(7);
        let (mut nodes, mut dirs, mut cfgs) = (Vec::new(), Vec::new(), Vec::new());
        let clocks: Vec<Arc<dyn Clock>> =
            skew_ms.iter().map(|&offset_ms| Arc::new(SkewedClock { offset_ms }) as Arc<dyn Clock>).collect();
        for (i, clock) in clocks.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let mut cfg = Config::for_test(dir.path());
            cfg.cluster_enabled = true;
            cfg.cluster_secret = Some("sim".into());
            cfg.cluster_announce_ip = Some(format!("10.0.0.{}", i + 1));
            cfg.cluster_port = 7000;
            if i > 0 {
                cfg.seeds = vec![addr(0).to_string()];
            }
            cfg.gossip_interval_ms = 100;
            cfg.suspect_after_ms = 600;
            cfg.rpc_timeout_ms = 300;
            tweak(&mut cfg);
            let shared: Arc<dyn Network> = Arc::new(net.clone());
            nodes.push(Some(NodeHandle::start_clocked(cfg.clone(), Some(shared), Arc::clone(clock)).await.unwrap()));
            cfgs.push(cfg);
            dirs.push(dir);
        }
        let ids = nodes.iter().map(|n| n.as_ref().unwrap().node().coord.node_id()).collect();
        let c = SimCluster { net, nodes, cfgs, clocks, ids, _dirs: dirs };
        c.wait_healthy(&(0..n).collect::<Vec<_>>(), n).await;
        wait_until("every node ready", Duration::from_secs(20), || {
            (0..n).all(|i| c.node(i).cluster.as_ref().unwrap().ready())
        })
        .await;
        // Nodes start one after the other, so an early node became ready knowing only the nodes
        // started before it; wait until each one's cluster time has the vote of every other node
        // (it gets it on its first call to a newcomer, within a gossip round).
        wait_until("every clock vote in", Duration::from_secs(20), || {
            (0..n).all(|i| c.node(i).cluster.as_ref().unwrap().clock().peer_votes() >= (n - 1).min(4))
        })
        .await;
        c
    }

    pub fn node(&self, i: usize) -> &Arc<Context> {
        self.nodes[i].as_ref().expect("node is running").node()
    }

    /// Stops node `i` (its data stays on disk).
    pub async fn stop_node(&mut self, i: usize) {
        if let Some(n) = self.nodes[i].take() {
            n.stop().await;
        }
    }

    /// Starts node `i` again on its data directory.
    pub async fn restart_node(&mut self, i: usize) {
        self.stop_node(i).await;
        let shared: Arc<dyn Network> = Arc::new(self.net.clone());
        let clock = Arc::clone(&self.clocks[i]);
        self.nodes[i] = Some(NodeHandle::start_clocked(self.cfgs[i].clone(), Some(shared), clock).await.unwrap());
    }

    /// Stops node `i`, empties its data directory but for its identity (`node.id`, its restart
    /// counter and its dot-counter lease — a node must never issue a dot twice), and starts it
    /// again: a replaced disk.
    pub async fn wipe_node(&mut self, i: usize) {
        self.stop_node(i).await;
        super::empty_but_identity(&self.cfgs[i].dir);
        self.restart_node(i).await;
    }

    /// What node `i` stores, as `key → digest of the stored version`.
    pub fn stored(&self, i: usize) -> std::collections::BTreeMap<Vec<u8>, cartwheel::coordinator::Digest> {
        self.node(i)
            .coord
            .scan(&[], 1_000_000)
            .unwrap()
            .into_iter()
            .map(|(skey, cur)| (keys::user_key(&skey).to_vec(), cartwheel::coordinator::Digest::of(cur.set())))
            .collect()
    }

    /// The id of node `i`.
    pub fn id(&self, i: usize) -> NodeId {
        self.ids[i]
    }

    /// The index of the node with id `id`.
    pub fn index_of(&self, id: NodeId) -> usize {
        self.ids.iter().position(|x| *x == id).expect("known node")
    }

    /// `(primaries, fallbacks)` of `key` as node `from` sees them, as node indexes.
    pub fn placement(&self, from: usize, key: &str) -> (Vec<usize>, Vec<usize>) {
        let topo = self.node(from).cluster.as_ref().unwrap().topology();
        let slot = keys::slot_of(key.as_bytes());
        let p = topo.primaries(slot).map(|p| self.index_of(p.member.id)).collect();
        let f = topo.fallbacks(slot).map(|p| self.index_of(p.member.id)).collect();
        (p, f)
    }

    /// An `INFO cartwheel` field of node `i`.
    pub async fn info_field(&self, i: usize, field: &str) -> String {
        info_field(self.node(i), field).await
    }

    /// `KV.LOCAL key HINTS` on node `i`: the targets it keeps hints for, for this key.
    pub async fn hint_targets(&self, i: usize, key: &str) -> Vec<String> {
        let mut s = self.session(i);
        match self.run(i, &mut s, &["KV.LOCAL", key, "HINTS"]).await {
            Reply::Array(entries) => entries
                .into_iter()
                .map(|e| match e {
                    Reply::Map(kv) => match &kv[0].1 {
                        Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                        r => panic!("target: {r:?}"),
                    },
                    r => panic!("hint entry: {r:?}"),
                })
                .collect(),
            r => panic!("KV.LOCAL HINTS: {r:?}"),
        }
    }

    /// `KV.LOCAL key` on node `i`.
    pub async fn local(&self, i: usize, key: &str) -> Reply {
        let mut s = self.session(i);
        self.run(i, &mut s, &["KV.LOCAL", key]).await
    }

    /// Waits until each node of `who` sees exactly the nodes of `who` healthy (`healthy` of them):
    /// one side of a partition agreeing on its members. Counting alone is not enough — right after
    /// a partition moves, a node still seen healthy on the old side can stand in for one not yet
    /// seen healthy on the new side.
    pub async fn wait_healthy(&self, who: &[usize], healthy: usize) {
        assert_eq!(who.len(), healthy, "wait_healthy: `who` is the healthy side");
        let want: std::collections::BTreeSet<NodeId> = who.iter().map(|&i| self.id(i)).collect();
        wait_until("membership view", Duration::from_secs(20), || {
            who.iter().all(|&i| {
                let t = self.node(i).cluster.as_ref().unwrap().topology();
                let seen: std::collections::BTreeSet<NodeId> =
                    t.peers().iter().filter(|p| p.healthy).map(|p| p.member.id).collect();
                seen == want
            })
        })
        .await;
    }

    pub fn session(&self, i: usize) -> Session {
        session_of(self.node(i))
    }

    pub async fn run(&self, i: usize, s: &mut Session, args: &[&str]) -> Reply {
        run_on(self.node(i), s, args).await
    }

    pub async fn local_len(&self, i: usize, key: &str) -> usize {
        let mut s = self.session(i);
        match self.run(i, &mut s, &["KV.LOCAL", key]).await {
            Reply::Array(a) => a.len(),
            r => panic!("KV.LOCAL: {r:?}"),
        }
    }

    pub async fn stop(self) {
        for n in self.nodes.into_iter().flatten() {
            n.stop().await;
        }
    }
}

/// Runs a command on `node` as session `s` would, committing its writes as the connection would.
pub async fn run_on(node: &Arc<Context>, s: &mut Session, args: &[&str]) -> Reply {
    let args = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
    let reply = router::execute(node, s, args).await;
    if s.writes.take_durable() {
        node.coord.durability().commit().await.unwrap();
    }
    reply
}

/// A session of `node`.
pub fn session_of(node: &Arc<Context>) -> Session {
    let a = node.addrs[0];
    Session::new(ClientEntry::detached(a, a), true)
}

/// `INFO cartwheel` of `node`.
pub async fn info_text(node: &Arc<Context>) -> String {
    let (Reply::Bulk(b) | Reply::Verbatim(b)) = run_on(node, &mut session_of(node), &["INFO", "cartwheel"]).await
    else {
        panic!("INFO")
    };
    String::from_utf8(b.to_vec()).unwrap()
}

/// An `INFO cartwheel` field of `node`.
pub async fn info_field(node: &Arc<Context>, field: &str) -> String {
    let text = info_text(node).await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no {field} in INFO: {text}"))
}

pub fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}
