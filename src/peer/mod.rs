//! The peer side of a cluster node: what it does with its peers' requests, and how its cluster
//! part starts.
//!
//! [`start`] builds the [`crate::cluster::Cluster`], the RPC server and the gossip loop when a
//! node is `cluster-enabled`; [`service`] answers each typed request (`crate::cluster::messages`):
//! replica reads and merges, hints, reaps, keyspace fan-out, and commands forwarded to this node
//! as their keys' coordinator, which enter through `router::execute_forwarded`.

pub mod service;
pub mod start;
