//! Redis Cluster emulation (`CLUSTER …`) and `KV.PREFLIST`: what cluster-aware clients read to
//! route commands straight to a key's coordinator.
//!
//! Cartwheel has no masters and replicas in Redis's sense; it presents each slot range with its
//! preference list: the current coordinator (first healthy replica) as the master, the other
//! replicas as its replicas. Every node still proxies any key, so clients that ignore all of this
//! work too. A node started without cluster settings answers like a Redis with cluster support
//! disabled.

use std::net::SocketAddr;

use bytes::Bytes;

use super::args::{is, parse_i64};
use super::Context;
use super::{cluster_state, errors};
use crate::cluster::{Cluster, Peer, Topology};
use crate::resp::reply::Reply;
use crate::storage::keys::{self, SLOTS};
use crate::version::NodeId;

/// `CLUSTER <subcommand> …`.
pub(super) async fn cluster(node: &Context, a: &[Bytes]) -> Reply {
    let sub = &a[1];
    if is(sub, "keyslot") {
        return Reply::Int(i64::from(keys::slot_of(&a[2])));
    }
    let Some(c) = node.cluster.as_ref() else {
        return Reply::error("ERR This instance has cluster support disabled");
    };
    let topo = c.topology();
    if is(sub, "myid") {
        Reply::bulk_string(topo.me().to_hex())
    } else if is(sub, "info") {
        Reply::Verbatim(Bytes::from(info(c, &topo)))
    } else if is(sub, "nodes") {
        Reply::Verbatim(Bytes::from(nodes(&topo)))
    } else if is(sub, "slots") {
        slots(&topo)
    } else if is(sub, "shards") {
        shards(&topo)
    } else if is(sub, "countkeysinslot") {
        match slot_arg(&a[2]) {
            Ok(slot) => match c.count_keys_in_slot(slot).await {
                Ok(n) => Reply::Int(n as i64),
                Err(e) => Reply::error(format!("ERR {e}")),
            },
            Err(r) => r,
        }
    } else if is(sub, "getkeysinslot") {
        getkeysinslot(c, &a[2], &a[3]).await
    } else if is(sub, "meet") {
        meet(c, a)
    } else if is(sub, "forget") {
        forget(c, &topo, &a[2])
    } else {
        errors::unknown_subcommand("cluster", sub)
    }
}

fn slot_arg(arg: &[u8]) -> Result<u16, Reply> {
    match parse_i64(arg) {
        Some(s) if (0..i64::from(SLOTS)).contains(&s) => Ok(s as u16),
        _ => Err(Reply::error("ERR Invalid or out of range slot")),
    }
}

fn info(c: &Cluster, topo: &Topology) -> String {
    let pfail = topo.peers().iter().filter(|p| !p.healthy && !p.failed).count();
    let fail = topo.peers().iter().filter(|p| p.failed).count();
    let s = c.settings();
    let state = cluster_state::of(topo, s.write_quorum, cluster_state::Joined::of(c));
    let lines = [
        format!("cluster_state:{}", state.state()),
        format!("cluster_state_reason:{}", state.reason.as_str()),
        format!("cluster_slots_assigned:{}", if topo.peers().is_empty() { 0 } else { SLOTS }),
        format!("cluster_slots_ok:{}", state.slots_ok),
        format!("cluster_slots_pfail:{}", state.slots_degraded),
        format!("cluster_slots_fail:{}", state.slots_fail()),
        format!("cluster_known_nodes:{}", topo.peers().len()),
        format!("cluster_size:{}", topo.peers().len()),
        format!("cluster_current_epoch:{}", topo.epoch()),
        format!("cluster_my_epoch:{}", topo.epoch()),
        "cluster_stats_messages_sent:0".to_string(),
        "cluster_stats_messages_received:0".to_string(),
        "total_cluster_links_buffer_limit_exceeded:0".to_string(),
        format!("cluster_replicas:{}", topo.replicas()),
        format!("cluster_read_quorum:{}", s.read_quorum.min(topo.replicas())),
        format!("cluster_write_quorum:{}", s.write_quorum.min(topo.replicas())),
        format!("cluster_nodes_suspect:{pfail}"),
        format!("cluster_nodes_down:{fail}"),
    ];
    let mut out = lines.join("\r\n");
    out.push_str("\r\n");
    out
}

fn addr_field(p: &Peer) -> String {
    format!("{}:{}@{}", p.member.client_addr.ip(), p.member.client_addr.port(), p.member.cluster_addr.port())
}

/// `CLUSTER NODES`: every node as a master of the slots it coordinates.
fn nodes(topo: &Topology) -> String {
    let mut out = String::new();
    for p in topo.peers() {
        let mut flags = Vec::new();
        if p.member.id == topo.me() {
            flags.push("myself");
        }
        flags.push("master");
        if p.failed {
            flags.push("fail");
        } else if !p.healthy {
            flags.push("fail?");
        }
        let link = if p.healthy { "connected" } else { "disconnected" };
        out.push_str(&format!(
            "{} {} {} - 0 0 {} {link}",
            p.member.id,
            addr_field(p),
            flags.join(","),
            p.member.generation
        ));
        for (lo, hi) in runs(|s| topo.coordinator(s).map(|c| c.member.id) == Some(p.member.id)) {
            if lo == hi {
                out.push_str(&format!(" {lo}"));
            } else {
                out.push_str(&format!(" {lo}-{hi}"));
            }
        }
        out.push('\n');
    }
    out
}

/// Maximal runs of consecutive slots where `pred` holds.
fn runs(pred: impl Fn(u16) -> bool) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    let mut start = None;
    for s in 0..SLOTS {
        match (pred(s), start) {
            (true, None) => start = Some(s),
            (false, Some(lo)) => {
                out.push((lo, s - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(lo) = start {
        out.push((lo, SLOTS - 1));
    }
    out
}

/// The routing list of a slot: the coordinator first, then the other replicas.
fn routing(topo: &Topology, slot: u16) -> Vec<&Peer> {
    let mut list: Vec<&Peer> = topo.primaries(slot).collect();
    if let Some(i) = list.iter().position(|p| p.healthy) {
        let head = list.remove(i);
        list.insert(0, head);
    }
    list
}

/// Maximal slot ranges with the same routing list.
fn ranges(topo: &Topology) -> Vec<(u16, u16, Vec<&Peer>)> {
    let mut out: Vec<(u16, u16, Vec<&Peer>)> = Vec::new();
    for s in 0..SLOTS {
        let list = routing(topo, s);
        match out.last_mut() {
            Some(last) if last.2.iter().map(|p| p.member.id).eq(list.iter().map(|p| p.member.id)) => last.1 = s,
            _ => out.push((s, s, list)),
        }
    }
    out
}

fn node_entry(p: &Peer) -> Reply {
    Reply::Array(vec![
        Reply::bulk_string(p.member.client_addr.ip().to_string()),
        Reply::Int(i64::from(p.member.client_addr.port())),
        Reply::bulk_string(p.member.id.to_hex()),
        Reply::Array(vec![]),
    ])
}

fn slots(topo: &Topology) -> Reply {
    Reply::Array(
        ranges(topo)
            .into_iter()
            .filter(|(_, _, list)| !list.is_empty())
            .map(|(lo, hi, list)| {
                let mut entry = vec![Reply::Int(i64::from(lo)), Reply::Int(i64::from(hi))];
                entry.extend(list.into_iter().map(node_entry));
                Reply::Array(entry)
            })
            .collect(),
    )
}

/// A routing list and the slot ranges that have it.
type Shard = (Vec<NodeId>, Vec<(u16, u16)>);

fn shards(topo: &Topology) -> Reply {
    // One shard per distinct routing list, with all of its slot ranges.
    let mut shards: Vec<Shard> = Vec::new();
    for (lo, hi, list) in ranges(topo) {
        let ids: Vec<NodeId> = list.iter().map(|p| p.member.id).collect();
        match shards.iter_mut().find(|s| s.0 == ids) {
            Some(s) => s.1.push((lo, hi)),
            None => shards.push((ids, vec![(lo, hi)])),
        }
    }
    Reply::Array(
        shards
            .into_iter()
            .filter(|(ids, _)| !ids.is_empty())
            .map(|(ids, ranges)| {
                let slots = ranges.iter().flat_map(|&(lo, hi)| [Reply::Int(i64::from(lo)), Reply::Int(i64::from(hi))]);
                let nodes = ids.iter().enumerate().filter_map(|(i, id)| topo.peer(id).map(|p| shard_node(p, i == 0)));
                Reply::Map(vec![
                    (Reply::bulk("slots"), Reply::Array(slots.collect())),
                    (Reply::bulk("nodes"), Reply::Array(nodes.collect())),
                ])
            })
            .collect(),
    )
}

fn shard_node(p: &Peer, master: bool) -> Reply {
    let ip = p.member.client_addr.ip().to_string();
    Reply::Map(vec![
        (Reply::bulk("id"), Reply::bulk_string(p.member.id.to_hex())),
        (Reply::bulk("port"), Reply::Int(i64::from(p.member.client_addr.port()))),
        (Reply::bulk("ip"), Reply::bulk_string(ip.clone())),
        (Reply::bulk("endpoint"), Reply::bulk_string(ip)),
        (Reply::bulk("role"), Reply::bulk(if master { "master" } else { "replica" })),
        (Reply::bulk("replication-offset"), Reply::Int(0)),
        (Reply::bulk("health"), Reply::bulk(if p.healthy { "online" } else { "failed" })),
    ])
}

async fn getkeysinslot(c: &std::sync::Arc<Cluster>, slot: &[u8], count: &[u8]) -> Reply {
    let slot = match slot_arg(slot) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let count = match parse_i64(count) {
        Some(n) if n >= 0 => n as usize,
        _ => return Reply::error("ERR Invalid number of keys"),
    };
    let mut out = Vec::new();
    let mut position = u64::from(slot) << 48;
    while out.len() < count {
        let (page, next) = match c.scan_page(position, (count - out.len()).clamp(1, 1024)).await {
            Ok(p) => p,
            Err(e) => return Reply::error(format!("ERR {e}")),
        };
        for (sk, cur) in page {
            if keys::position(&sk) >> 48 == u64::from(slot) && cur.exists() && out.len() < count {
                out.push(Reply::Bulk(keys::user_key(&sk)));
            }
        }
        if next == 0 || next >> 48 != u64::from(slot) {
            break;
        }
        position = next;
    }
    Reply::Array(out)
}

fn meet(c: &Cluster, a: &[Bytes]) -> Reply {
    let ip = String::from_utf8_lossy(&a[2]).to_string();
    let port = match parse_i64(&a[3]) {
        Some(p) if (1..=55535).contains(&p) => p as u16,
        _ => return Reply::error(format!("ERR Invalid base port specified: {}", String::from_utf8_lossy(&a[3]))),
    };
    let cport = match a.get(4).map(|b| parse_i64(b)) {
        None => port + 10000,
        Some(Some(p)) if (1..=65535).contains(&p) => p as u16,
        Some(_) => return Reply::error("ERR Invalid bus port specified"),
    };
    match format!("{ip}:{cport}").parse::<SocketAddr>() {
        Ok(addr) => {
            c.membership().meet(addr);
            Reply::ok()
        }
        Err(_) => Reply::error(format!("ERR Invalid node address specified: {ip}:{port}")),
    }
}

fn forget(c: &Cluster, topo: &Topology, id: &[u8]) -> Reply {
    let Some(id) = std::str::from_utf8(id).ok().and_then(NodeId::from_hex) else {
        return Reply::error(format!("ERR Unknown node {}", String::from_utf8_lossy(id)));
    };
    if id == topo.me() {
        return Reply::error("ERR I tried hard but I can't forget myself...");
    }
    if c.membership().forget(id) {
        Reply::ok()
    } else {
        Reply::error(format!("ERR Unknown node {id}"))
    }
}

/// `KV.PREFLIST key` → `[slot, [primary…], [fallback…]]`, each node `[id, ip, port]`.
pub(super) fn preflist(node: &Context, a: &[Bytes]) -> Reply {
    let slot = keys::slot_of(&a[1]);
    let entry = |id: String, addr: SocketAddr| {
        Reply::Array(vec![
            Reply::bulk_string(id),
            Reply::bulk_string(addr.ip().to_string()),
            Reply::Int(i64::from(addr.port())),
        ])
    };
    let Some(c) = node.cluster.as_ref() else {
        let me =
            entry(node.coord.node_id().to_hex(), node.addrs.first().copied().unwrap_or(([127, 0, 0, 1], 0).into()));
        return Reply::Array(vec![Reply::Int(i64::from(slot)), Reply::Array(vec![me]), Reply::Array(vec![])]);
    };
    let topo = c.topology();
    let primaries = topo.primaries(slot).map(|p| entry(p.member.id.to_hex(), p.member.client_addr)).collect();
    let fallbacks = topo.fallbacks(slot).map(|p| entry(p.member.id.to_hex(), p.member.client_addr)).collect();
    Reply::Array(vec![Reply::Int(i64::from(slot)), Reply::Array(primaries), Reply::Array(fallbacks)])
}
