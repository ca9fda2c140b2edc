//! The membership a node last knew, kept on disk (`dir/members`), so that a restarted node places
//! keys with every member it knew — members that were merely down included — instead of the few
//! that gossip has reported so far (DESIGN §1.8: placement is never computed from a partial view).
//!
//! [`super::Membership::save`] writes it whenever the placement-relevant part of a confirmed view
//! changes (a member joined, was forgotten, or restarted with other addresses, weight or vnodes);
//! the node reads it once at start ([`load`]) and starts from it ([`super::Start::Saved`]). A
//! standalone node writes an empty one in a new data directory (it is a cluster of one), so that
//! started later with `--cluster` and no seeds it is the first node of a cluster.
//!
//! The file is the line `cartwheel members 1` followed by one gossip `SynAck` message
//! (`codec.rs`): `from` is this node (a file copied from another node's directory is refused),
//! `records` are the other members as last known — heartbeat 0 and status joining, so a record read
//! from disk is never taken as evidence that its member serves — and `tombstones` are the members
//! forgotten with `CLUSTER FORGET`, each with its expiry time (ms since the Unix epoch) in the
//! `ttl_ms` field. Written to a temporary file, synced, renamed over the old one and the directory
//! synced: a crash leaves the old file or the new one, never half of one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::codec::{Message, Record, Tombstone};
use crate::version::NodeId;

/// The file's name in the data directory.
pub const FILE: &str = "members";

const HEADER: &[u8] = b"cartwheel members 1\n";

/// What a node saved of its cluster's membership.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    /// The other members, as last known.
    pub(crate) records: Vec<Record>,
    /// Forgotten members: `(id, generation, expires at in ms since the Unix epoch)`.
    pub(crate) forgotten: Vec<(NodeId, u64, u64)>,
}

impl Saved {
    /// How many other members it lists.
    pub fn members(&self) -> usize {
        self.records.len()
    }

    /// The replicas per key (N) its members were configured with (`None`: it lists no member).
    pub fn replicas(&self) -> Option<usize> {
        self.records.first().map(|r| r.member.replicas)
    }

    /// Whether both list the same members and forgotten members (expiry times aside).
    pub(crate) fn same_members(&self, other: &Saved) -> bool {
        let forgotten = |s: &Saved| s.forgotten.iter().map(|&(id, g, _)| (id, g)).collect::<Vec<_>>();
        self.records == other.records && forgotten(self) == forgotten(other)
    }
}

/// The members file could not be read or written. Never retryable without an operator.
#[derive(Debug, Error)]
pub enum SaveError {
    /// Reading or writing failed.
    #[error("members file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a members file this build reads.
    #[error(
        "members file {path} is damaged or of an unknown version ({reason}); move it aside and start the node with \
         --seed <a member's cluster address> so that it learns the members again"
    )]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The file belongs to another node.
    #[error("members file {path} was written by node {owner}, not by this node; was the directory copied?")]
    Foreign {
        /// The file.
        path: String,
        /// Whose it is.
        owner: NodeId,
    },
}

fn path_of(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Reads the membership node `me` saved in `dir` (`None`: there is no file).
pub fn load(dir: &Path, me: NodeId) -> Result<Option<Saved>, SaveError> {
    let path = path_of(dir);
    let shown = path.display().to_string();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SaveError::Io { path: shown, source }),
    };
    let corrupt = |reason: String| SaveError::Corrupt { path: shown.clone(), reason };
    let body = bytes.strip_prefix(HEADER).ok_or_else(|| corrupt("no 'cartwheel members 1' header".into()))?;
    match Message::decode(body).map_err(|e| corrupt(e.to_string()))? {
        Message::SynAck { from, records, tombstones, .. } => {
            if from != me {
                return Err(SaveError::Foreign { path: shown, owner: from });
            }
            let forgotten = tombstones.iter().map(|t| (t.id, t.generation, t.ttl_ms)).collect();
            Ok(Some(Saved { records, forgotten }))
        }
        _ => Err(corrupt("not a membership record".into())),
    }
}

/// Writes `saved` as node `me`'s (generation `generation`) membership in `dir`, atomically.
pub fn store(dir: &Path, me: NodeId, generation: u64, saved: &Saved) -> Result<(), SaveError> {
    let path = path_of(dir);
    let io = |source| SaveError::Io { path: path.display().to_string(), source };
    let tombstones =
        saved.forgotten.iter().map(|&(id, generation, at)| Tombstone { id, generation, ttl_ms: at }).collect();
    let msg = Message::SynAck { from: me, generation, records: saved.records.clone(), want: Vec::new(), tombstones };
    let tmp = dir.join("members.tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(HEADER).map_err(io)?;
    f.write_all(&msg.encode()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    // The rename itself must survive a power loss.
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::membership::{LocalMember, MemberStatus};

    fn record(i: u8) -> Record {
        let addr = format!("127.0.0.{i}:7000").parse().unwrap();
        let member = LocalMember {
            id: NodeId([i; 20]),
            client_addr: addr,
            cluster_addr: addr,
            zone: "z".into(),
            weight: 2,
            vnodes: 16,
            generation: 7,
            replicas: 3,
        };
        Record { member, heartbeat: 0, status: MemberStatus::Joining, suspects: Vec::new() }
    }

    #[test]
    fn what_is_stored_loads_back_and_only_for_its_node() {
        let dir = tempfile::tempdir().unwrap();
        let me = NodeId([1; 20]);
        assert_eq!(load(dir.path(), me).unwrap(), None, "no file yet");
        let saved =
            Saved { records: vec![record(2), record(3)], forgotten: vec![(NodeId([9; 20]), 4, 1_700_000_000_000)] };
        store(dir.path(), me, 5, &saved).unwrap();
        assert_eq!(load(dir.path(), me).unwrap(), Some(saved.clone()));
        assert_eq!((saved.members(), saved.replicas()), (2, Some(3)));
        assert!(!dir.path().join("members.tmp").exists());
        let e = load(dir.path(), NodeId([2; 20])).unwrap_err();
        assert!(matches!(e, SaveError::Foreign { owner, .. } if owner == me), "{e}");
    }

    #[test]
    fn a_damaged_file_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let me = NodeId([1; 20]);
        store(dir.path(), me, 1, &Saved { records: vec![record(2)], forgotten: Vec::new() }).unwrap();
        let full = std::fs::read(dir.path().join(FILE)).unwrap();
        for cut in [0, 5, HEADER.len() + 3, full.len() - 1] {
            std::fs::write(dir.path().join(FILE), &full[..cut]).unwrap();
            let e = load(dir.path(), me).unwrap_err().to_string();
            assert!(e.contains("damaged") && e.contains("--seed"), "cut at {cut}: {e}");
        }
    }
}
