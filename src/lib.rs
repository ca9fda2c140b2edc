//! Cartwheel: a Dynamo-style, leaderless, replicated key-value store that speaks Redis.
//!
//! Read the modules in the order a request travels:
//!
//! ```text
//! client ─RESP─▶ resp::connection ─▶ command::execute ─▶ cluster::route ──▶ coordinator ─▶ storage (fjall)
//!                 (parser, reply)      (table, families)   (here, forward    (versions,      (Store trait,
//!                                                           or split; quorum  key locks,      durability,
//!                                                           reads / writes)   expiry)         group commit)
//!                                                               │ ring::preference_list(slot)
//!                                                               └─ rpc::RpcClient ─net─▶ peer cluster::service ─▶ its coordinator
//! membership (gossip) ──ClusterView──▶ cluster::Topology (members + ring snapshot)
//! ```
//!
//! 1. [`resp`] — the client edge: incremental request parser with Redis's limits and errors,
//!    reply encoding for RESP2/RESP3, the per-connection loop and the listener.
//! 2. [`command`] — the command table (arity, flags, key positions) and one file per command
//!    family; commands return [`resp::reply::Reply`] values and never touch the socket.
//! 3. [`cluster`] — where a command runs (this node, its key's coordinator, or split across
//!    nodes), quorum writes and reads with read repair, cluster-wide keyspace commands, and the
//!    service answering peers. Absent on a standalone node (a cluster of one).
//! 4. [`coordinator`] — this node's replica: per-key serialisation, new causal versions, merges
//!    of versions from other replicas, expiry.
//! 5. [`version`] — pure: DVVSet sibling sets, the hybrid logical clock, the stored encoding.
//! 6. [`storage`] — the `Store` trait, fjall and in-memory implementations, fsync policy.
//! 7. [`ring`] — pure: vnode tokens, slots, preference lists.
//! 8. [`rpc`] over [`net`] — node-to-node transport: authenticated, multiplexed, TCP or simulated.
//! 9. [`membership`] — gossip, failure detector, `CLUSTER MEET`/`FORGET`; publishes the view.
//!
//! [`node`] wires these together; [`config`] is the TOML + CLI configuration; [`clock`] is the
//! wall-clock seam used for TTLs; [`telemetry`] is the logger that never blocks nor panics;
//! [`metrics`] holds the `INFO stats` numbers that are more than a counter.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod clock;
pub mod cluster;
pub mod command;
pub mod config;
pub mod coordinator;
#[doc(hidden)]
pub mod fuzzing;
pub mod membership;
pub mod metrics;
pub mod net;
pub mod node;
pub mod resp;
pub mod ring;
pub mod rpc;
pub mod storage;
pub mod telemetry;
pub mod version;
