//! `KV.AAE` and `INFO anti_entropy`: what anti-entropy knows and does, on demand.
//!
//! - `KV.AAE STATUS` — the `INFO anti_entropy` fields as a map.
//! - `KV.AAE SLOT slot` — this node's tree of one slot: its root and 32 segment hashes (hex) and
//!   the live keys it holds there.
//! - `KV.AAE EXCHANGE [cluster-addr]` — runs an exchange now with every healthy peer (or the one
//!   at `cluster-addr`) and answers, per peer, what it found and repaired, or why it failed.
//!
//! A standalone node has no anti-entropy: `KV.AAE` answers an error, `INFO` says `aae_enabled:0`.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::args::is;
use super::{errors, Context};
use crate::antientropy::budget::Budget;
use crate::antientropy::worker::{exchange_with, partners};
use crate::resp::reply::Reply;
use crate::storage::keys::SLOTS;

/// The `INFO anti_entropy` fields.
pub(super) fn info_fields(node: &Context) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut kv = |k: &str, v: String| out.push((k.to_string(), v));
    let Some(ae) = node.antientropy.as_ref() else {
        kv("aae_enabled", "0".into());
        return out;
    };
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
    let s = &ae.stats;
    kv("aae_enabled", "1".into());
    kv("aae_trees_built", u8::from(ae.ready()).to_string());
    kv("aae_rebuild_keys", load(&s.rebuild_keys));
    kv("aae_nonempty_slots", ae.trees().nonempty_slots().to_string());
    kv("aae_interval_ms", ae.settings().interval.as_millis().to_string());
    kv("aae_exchanges", load(&s.exchanges));
    kv("aae_exchange_failures", load(&s.exchange_failures));
    kv("aae_slots_compared", load(&s.slots_compared));
    kv("aae_slots_differing", load(&s.slots_differing));
    kv("aae_keys_differing", load(&s.keys_differing));
    kv("aae_keys_unconfirmed", load(&s.keys_unconfirmed));
    kv("aae_keys_pulled", load(&s.keys_pulled));
    kv("aae_keys_pushed", load(&s.keys_pushed));
    kv("aae_bytes_sent", load(&s.bytes_sent));
    kv("aae_bytes_received", load(&s.bytes_received));
    let now = node.coord.now_ms();
    for (i, (id, r)) in ae.rounds().iter().enumerate() {
        kv(
            &format!("aae_peer{i}"),
            format!(
                "id={id},addr={},exchanges={},last_round_ms_ago={},last_pulled={},last_pushed={}",
                r.addr,
                r.exchanges,
                now.saturating_sub(r.last_ms),
                r.last_pulled,
                r.last_pushed
            ),
        );
    }
    out
}

/// `KV.AAE STATUS | SLOT slot | EXCHANGE [cluster-addr]`.
pub(super) async fn aae(node: &Context, a: &[Bytes]) -> Reply {
    let (Some(ae), Some(cluster)) = (node.antientropy.as_ref(), node.cluster.as_ref()) else {
        return Reply::error("ERR anti-entropy runs only in a cluster (this node is standalone)");
    };
    match &a[1..] {
        [sub] if is(sub, "status") => Reply::Map(
            info_fields(node).into_iter().map(|(k, v)| (Reply::bulk_string(k), Reply::bulk_string(v))).collect(),
        ),
        [sub, slot] if is(sub, "slot") => {
            let Some(slot) = std::str::from_utf8(slot).ok().and_then(|s| s.parse::<u16>().ok()).filter(|&s| s < SLOTS)
            else {
                return Reply::error("ERR slot must be an integer from 0 to 16383");
            };
            let hex = |h: u64| Reply::bulk_string(format!("{h:016x}"));
            Reply::Map(vec![
                (Reply::bulk("slot"), Reply::Int(i64::from(slot))),
                (Reply::bulk("root"), hex(ae.trees().root(slot))),
                (Reply::bulk("segments"), Reply::Array(ae.trees().segments(slot).into_iter().map(hex).collect())),
                (Reply::bulk("live_keys"), Reply::Int(node.coord.slot_keys(slot) as i64)),
            ])
        }
        [sub, rest @ ..] if is(sub, "exchange") && rest.len() <= 1 => {
            let mut peers = partners(cluster);
            if let Some(addr) = rest.first() {
                let addr = String::from_utf8_lossy(addr);
                peers.retain(|p| p.member.cluster_addr.to_string() == addr);
                if peers.is_empty() {
                    return Reply::error(format!("ERR no healthy peer at cluster address {addr}"));
                }
            }
            let mut out = Vec::with_capacity(peers.len());
            for peer in &peers {
                let mut bytes = Budget::new(ae.settings().bytes_per_sec);
                let addr = Reply::bulk_string(peer.member.cluster_addr.to_string());
                let fields = match exchange_with(ae, cluster, peer, &mut bytes).await {
                    Ok(o) => {
                        let int = |v: u64| Reply::Int(v as i64);
                        vec![
                            (Reply::bulk("peer"), addr),
                            (Reply::bulk("slots"), int(o.slots)),
                            (Reply::bulk("slots_differing"), int(o.slots_differing)),
                            (Reply::bulk("keys_differing"), int(o.keys_differing)),
                            (Reply::bulk("keys_unconfirmed"), int(o.keys_unconfirmed)),
                            (Reply::bulk("pulled"), int(o.pulled)),
                            (Reply::bulk("pushed"), int(o.pushed)),
                            (Reply::bulk("bytes_sent"), int(o.bytes_sent)),
                            (Reply::bulk("bytes_received"), int(o.bytes_received)),
                        ]
                    }
                    Err(e) => {
                        vec![(Reply::bulk("peer"), addr), (Reply::bulk("error"), Reply::bulk_string(e.to_string()))]
                    }
                };
                out.push(Reply::Map(fields));
            }
            Reply::Array(out)
        }
        _ => errors::syntax(),
    }
}
