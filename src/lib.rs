//! Cartwheel: a Dynamo-style, leaderless, replicated key-value store that speaks Redis.
//!
//! Read the modules in the order a request travels:
//!
//! ```text
//! client ─RESP─▶ edge::connection ─▶ router::execute ─┬─ here ──────▶ command::dispatch ─▶ coordinator ─▶ storage (fjall)
//!                 (resp::parser,      (table, arity,   │              (one handler per    (versions,      (Store trait,
//!                  resp::reply)        auth, stats)    │               family)             key locks,      durability,
//!                                                      │                                   expiry)         group commit)
//!                                                      │  writes: cluster::write (W of N)   reads: cluster::read (R of N)
//!                                                      └─ forward ─▶ rpc::RpcClient ─net─▶ peer::service ─▶ router::execute_forwarded
//! membership (gossip) ──ClusterView──▶ cluster::Topology (members + ring snapshot)
//! ```
//!
//! 1. [`edge`] — the listener and the per-connection loop (batching, pipelining, one write per
//!    read batch); [`resp`] below it is the protocol: request parser, reply encoding, clients.
//! 2. [`router`] — every client command's first stop: table lookup, arity, authentication,
//!    command stats; then here, forwarded to the key's coordinator, or split across nodes.
//! 3. [`command`] — the command table and one file per command family; handlers take a
//!    [`command::Context`] and return [`resp::reply::Reply`] values, never touching the socket.
//! 4. [`cluster`] — quorum writes and reads with read repair, hinted handoff delivery, tombstone
//!    reaps, cluster-wide keyspace commands, the wire messages; when a node may coordinate (its
//!    view of the members confirmed: `cluster::join`) and offloading of data it does not
//!    replicate. Absent on a standalone node.
//! 5. [`peer`] — the other side of [`cluster`]: the service answering peers' typed requests, and
//!    the start of a node's cluster part (RPC server, gossip, workers).
//!    [`antientropy`] beside it: Merkle (Tictac) trees per slot folded from the change feed, and
//!    the exchanges that compare them with peers and merge what differs.
//! 6. [`coordinator`] — this node's replica: per-key serialisation, new causal versions, merges
//!    of versions from other replicas, hints, expiry.
//! 7. [`version`] — pure: DVVSet sibling sets, the hybrid logical clock, the stored encoding.
//! 8. [`storage`] — the `Store` over named spaces (data, hints) with one scan iterator, fjall and
//!    in-memory implementations, fsync policy, the data directory's format version.
//! 9. [`ring`] — pure: vnode tokens, slots, preference lists.
//! 10. [`rpc`] over [`net`] — node-to-node transport: authenticated, multiplexed, TCP or simulated.
//! 11. [`membership`] — gossip, failure detector, `CLUSTER MEET`/`FORGET`; publishes the view;
//!     saves the members (`dir/members`) and confirms a restarted node's view before it places keys.
//!
//! [`node`] is the composition root: it builds the pieces from a [`config::Config`] and nothing
//! imports it. [`clock`] is the wall-clock seam (TTLs, cluster time); [`telemetry`] is the logger
//! that never blocks nor panics; [`metrics`] holds the `INFO stats` counters; [`workers`] is the
//! registry every background worker is started through (`INFO workers`).
//!
//! Every change to stored data goes through one place, `Coordinator::apply`, which records it in
//! the request's `coordinator::Writes` (durability, replication) and emits it on the change feed
//! (`coordinator::Subscriber`).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod antientropy;
pub mod clock;
pub mod cluster;
pub mod command;
pub mod config;
pub mod coordinator;
pub mod edge;
#[doc(hidden)]
pub mod fuzzing;
pub mod membership;
pub mod metrics;
pub mod net;
pub mod node;
pub mod peer;
pub mod resp;
pub mod ring;
pub mod router;
pub mod rpc;
pub mod storage;
pub mod telemetry;
pub mod version;
pub mod workers;
