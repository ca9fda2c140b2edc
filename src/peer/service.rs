//! What this node does with its peers' requests (the server side of [`crate::cluster::messages`]):
//! merge replicated versions, hand out local copies, run forwarded commands as their keys'
//! coordinator, keep hints for other nodes (sloppy quorum), reap fully acknowledged tombstones,
//! serve cluster-wide scans and counts, and answer gossip.
//!
//! **The late-request fence.** Requests whose effect depends on this node's state when they run —
//! `Forward` (the command reads the coordinator's copy and makes a new version from it), `Reap`
//! and `FlushAll` — carry their sender's deadline in this node's time (`rpc/clock.rs`). One that
//! arrives after it is dropped unrun (`late_requests_dropped`); one that is running when it passes
//! writes nothing from then on (`coordinator::fenced`, `late_writes_refused`). So a forward held in
//! TCP buffers across a partition, or read by a node thawed after `SIGSTOP`, can never overwrite
//! the writes acknowledged while its sender had given up on it. `Replicate` and `Hinted` merge
//! versions that already exist, which is safe late *while the key is stored*; but once every
//! replica has reaped a key's tombstone, a version merged late would come back as new. So they are
//! dropped unrun when they arrive late too (their sender counted them as failed already: a write
//! quorum never includes them, a hint replay retries); once running, a merge is not interrupted.
//!
//! A replica acknowledges a `Replicate` only after the merged versions are as durable as the
//! node's `fsync` policy promises (handed to the OS, or synced under `always`), so a W-quorum ack
//! means what a client's ack means on one node.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tokio::time::Instant;

use crate::antientropy;
use crate::cluster::messages::{
    Forward, HintedVersion, KeyVersion, Request, Response, HOLDS_NOTHING, HOLDS_OTHER, HOLDS_SAME,
};
use crate::cluster::Cluster;
use crate::command::Context;
use crate::command::Session;
use crate::coordinator::{fenced, CoordError, Coordinator, HintOutcome, Writes};
use crate::resp::clients::ClientEntry;
use crate::version::{codec, DvvSet, NodeId};

/// Handles one request from the peer at `from`, whose sender waits until `deadline` (this node's
/// time); always produces an encoded [`Response`].
pub async fn handle(
    node: &Arc<Context>,
    cluster: &Arc<Cluster>,
    from: SocketAddr,
    request: &[u8],
    deadline: Option<Instant>,
) -> Bytes {
    let decoded = Request::decode(request);
    let is_aae = matches!(
        decoded,
        Ok(Request::AaeGroups(_) | Request::AaeRoots(_) | Request::AaeSegments(_) | Request::AaeKeys(_))
    );
    let response = match decoded {
        Ok(req) if fenced_kind(&req) => match deadline {
            Some(d) if Instant::now() >= d => {
                cluster.stats.late_dropped.fetch_add(1, Ordering::Relaxed);
                Response::Error("LATE the request arrived after its sender's deadline; it was not run".into())
            }
            Some(d) => fenced(d, answer(node, cluster, from, req)).await,
            None => answer(node, cluster, from, req).await,
        },
        Ok(req) => answer(node, cluster, from, req).await,
        Err(e) => {
            tracing::warn!(peer = %from, error = %e, "undecodable cluster request");
            Response::Error(e.to_string())
        }
    };
    let encoded = response.encode();
    if let Some(ae) = node.antientropy.as_ref().filter(|_| is_aae) {
        ae.count_answered(request.len(), encoded.len());
    }
    encoded
}

/// Requests whose effect depends on this node's state when they run (see the module docs).
fn fenced_kind(req: &Request) -> bool {
    matches!(
        req,
        Request::Forward(_) | Request::Reap(_) | Request::FlushAll | Request::Replicate(_) | Request::Hinted(_)
    )
}

async fn answer(node: &Arc<Context>, cluster: &Arc<Cluster>, from: SocketAddr, req: Request) -> Response {
    let coord = cluster.coord();
    match req {
        Request::Replicate(versions) => replicate(cluster, versions).await,
        Request::Fetch(keys) => {
            let mut sets = Vec::with_capacity(keys.len());
            for k in keys {
                match with_hints(coord, &k) {
                    Ok(set) => sets.push(set.map(|s| codec::to_bytes(&s))),
                    Err(e) => return Response::Error(e.to_string()),
                }
            }
            Response::Sets(sets)
        }
        Request::Hinted(versions) => store_hints(cluster, versions).await,
        Request::Reap(versions) => {
            let mut reaped = 0;
            for v in versions {
                match codec::decode(&v.set).map(|set| coord.reap(&v.key, &set)) {
                    Ok(Ok(true)) => reaped += 1,
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => return Response::Error(e.to_string()),
                    Err(e) => return Response::Error(format!("undecodable version: {e}")),
                }
            }
            Response::Count(reaped)
        }
        Request::Forward(f) => Response::Reply(run_forwarded(node, cluster, from, f).await),
        Request::Scan { ranges, limit } => match coord.scan_ranges(&ranges, limit.min(100_000) as usize) {
            Ok(keys) => Response::Keys(keys),
            Err(e) => Response::Error(e.to_string()),
        },
        Request::Ping => Response::Ack,
        Request::HintsFor(keys) => match coord.hinted_keys(&keys) {
            Ok(n) => Response::Count(n),
            Err(e) => Response::Error(e.to_string()),
        },
        Request::CountSlots(ranges) => {
            let mut n = 0;
            for (lo, hi) in ranges {
                for s in lo..=hi.min(crate::storage::keys::SLOTS - 1) {
                    n += coord.slot_keys(s);
                }
            }
            Response::Count(n)
        }
        Request::FlushAll => match coord.flush_all(&mut Writes::default()) {
            Ok(()) => match coord.durability().commit().await {
                Ok(()) => Response::Ack,
                Err(e) => Response::Error(e.to_string()),
            },
            Err(e) => Response::Error(e.to_string()),
        },
        Request::Gossip(msg) => match cluster.membership().handle(from, msg) {
            Ok(reply) => Response::Gossip(reply),
            Err(e) => Response::Error(e.to_string()),
        },
        Request::Holds(versions) => holds(coord, versions),
        Request::AaeGroups(_) | Request::AaeRoots(_) | Request::AaeSegments(_) | Request::AaeKeys(_) => {
            match node.antientropy.as_ref() {
                Some(ae) => antientropy::answer(ae, coord, req),
                None => Response::Error("ERR anti-entropy is not running on this node".into()),
            }
        }
    }
}

/// Per tombstone: whether this node stores that very set, nothing, or something else.
fn holds(coord: &Coordinator, versions: Vec<KeyVersion>) -> Response {
    let mut out = Vec::with_capacity(versions.len());
    for v in versions {
        let asked = match codec::decode(&v.set) {
            Ok(s) => s,
            Err(e) => return Response::Error(format!("undecodable version: {e}")),
        };
        out.push(match coord.local(&v.key) {
            Ok(None) => HOLDS_NOTHING,
            Ok(Some(set)) if set == asked => HOLDS_SAME,
            Ok(Some(_)) => HOLDS_OTHER,
            Err(e) => return Response::Error(e.to_string()),
        });
    }
    Response::Holdings(out)
}

/// Merges replicated versions (a quorum write, a read repair, a hint delivered, an anti-entropy
/// push, an offload) — only those of slots this node replicates in its view, and only once its
/// view is confirmed: a version of any other slot would sit where no read looks for it. The
/// answer is `Ack` when every version was taken, else `Stored` with one flag per version (the
/// sender counts a refused one as not acknowledged and tries another replica or a fallback).
async fn replicate(cluster: &Arc<Cluster>, versions: Vec<KeyVersion>) -> Response {
    if !cluster.ready() {
        return Response::Error("TRYAGAIN this node's view of the cluster is not confirmed yet".into());
    }
    let coord = cluster.coord();
    let topo = cluster.topology();
    let mut taken = Vec::with_capacity(versions.len());
    for v in versions {
        if !topo.is_replica(crate::storage::keys::slot_of(&v.key)) {
            taken.push(false);
            continue;
        }
        let set = match codec::decode(&v.set) {
            Ok(s) => s,
            Err(e) => return Response::Error(format!("undecodable version: {e}")),
        };
        match coord.merge(&v.key, &set) {
            Ok(m) if m.changed => {
                cluster.stats.merged_in.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => return Response::Error(e.to_string()),
        }
        taken.push(true);
    }
    let refused = taken.iter().filter(|t| !**t).count();
    if refused > 0 {
        cluster.stats.replica_writes_refused.fetch_add(refused as u64, Ordering::Relaxed);
    }
    match coord.durability().commit().await {
        Ok(()) if refused == 0 => Response::Ack,
        Ok(()) => Response::Stored(taken),
        Err(e) => Response::Error(e.to_string()),
    }
}

/// This node's copy of `key` merged with every hint it keeps for it: a quorum read that asks a
/// fallback sees what the fallback holds for the key's down replicas.
fn with_hints(coord: &Coordinator, key: &[u8]) -> Result<Option<DvvSet>, CoordError> {
    let mut set = coord.local(key)?;
    for (_, hinted) in coord.hints_for(key)? {
        set = Some(match set {
            Some(s) => s.sync(&hinted),
            None => hinted,
        });
    }
    Ok(set)
}

/// Keeps versions as hints for their targets; acknowledges each after the durability commit.
async fn store_hints(cluster: &Arc<Cluster>, versions: Vec<HintedVersion>) -> Response {
    let coord = cluster.coord();
    let mut stored = Vec::with_capacity(versions.len());
    for v in versions {
        let set = match codec::decode(&v.set) {
            Ok(s) => s,
            Err(e) => return Response::Error(format!("undecodable version: {e}")),
        };
        let target = NodeId(v.target);
        // A hint meant for this very node (the sender's view was behind) is merged, if it is one
        // of the key's replicas here; otherwise the sender keeps it.
        let outcome = if target == coord.node_id() {
            let mine = cluster.ready() && cluster.topology().is_replica(crate::storage::keys::slot_of(&v.key));
            if mine {
                coord.merge(&v.key, &set).map(|_| true)
            } else {
                Ok(false)
            }
        } else {
            coord.store_hint(target, &v.key, &set).map(|o| o == HintOutcome::Stored)
        };
        match outcome {
            Ok(ok) => stored.push(ok),
            Err(e) => return Response::Error(e.to_string()),
        }
    }
    match coord.durability().commit().await {
        Ok(()) => Response::Stored(stored),
        Err(e) => Response::Error(e.to_string()),
    }
}

async fn run_forwarded(
    node: &Arc<Context>,
    cluster: &Arc<Cluster>,
    from: SocketAddr,
    f: Forward,
) -> crate::resp::reply::Reply {
    cluster.stats.forwarded_in.fetch_add(1, Ordering::Relaxed);
    let laddr = node.addrs.first().copied().unwrap_or(from);
    let mut session = Session::new(ClientEntry::detached(from, laddr), true);
    session.consistency.r = f.r.map(|q| q as usize);
    session.consistency.w = f.w.map(|q| q as usize);
    session.consistency.strict = f.strict;
    let reply = crate::router::execute_forwarded(node, &mut session, f.args).await;
    if session.writes.take_durable() {
        if let Err(e) = node.coord.durability().commit().await {
            return crate::resp::reply::Reply::error(format!("ERR durability commit failed: {e}"));
        }
    }
    reply
}
