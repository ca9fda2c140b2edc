//! Cartwheel: a Dynamo-style, leaderless, replicated key-value store that speaks Redis.
//!
//! Read the modules in the order a request travels:
//!
//! ```text
//! client ─RESP─▶ resp::connection ─▶ command::execute ─▶ coordinator ─▶ storage (fjall)
//!                 (parser, reply)      (table, families)   (versions,      (Store trait,
//!                                                           key locks,      durability,
//!                                                           expiry)         group commit)
//! ```
//!
//! 1. [`resp`] — the client edge: incremental request parser with Redis's limits and errors,
//!    reply encoding for RESP2/RESP3, the per-connection loop and the listener.
//! 2. [`command`] — the command table (arity, flags, key positions) and one file per command
//!    family; commands return [`resp::reply::Reply`] values and never touch the socket.
//! 3. [`coordinator`] — reads and writes keys: per-key serialisation, new causal versions,
//!    expiry. Today a cluster of one (N = 1); the cluster fans out from here.
//! 4. [`version`] — pure: DVVSet sibling sets, the hybrid logical clock, the stored encoding.
//! 5. [`storage`] — the `Store` trait, fjall and in-memory implementations, fsync policy.
//! 6. [`rpc`] over [`net`] — node-to-node transport: authenticated, multiplexed, TCP or simulated.
//! 7. [`membership`] — gossip, failure detector, `CLUSTER MEET`/`FORGET`; publishes the view.
//! 8. [`ring`] — pure: tokens, slots and precomputed preference lists (DESIGN §1.1).
//!
//! [`node`] wires these together; [`config`] is the TOML + CLI configuration; [`clock`] is the
//! wall-clock seam used for TTLs.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod clock;
pub mod command;
pub mod config;
pub mod coordinator;
pub mod membership;
pub mod net;
pub mod node;
pub mod resp;
pub mod ring;
pub mod rpc;
pub mod storage;
pub mod version;
