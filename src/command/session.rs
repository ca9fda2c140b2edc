//! Per-connection state that commands read and change: protocol version, authentication, reply
//! mode, per-connection consistency, and the connection's entry in the client registry (what
//! `CLIENT LIST` shows).

use std::sync::Arc;

use crate::coordinator::Writes;
use crate::resp::clients::ClientEntry;
use crate::resp::reply::Protocol;

/// `CLIENT REPLY ON|OFF|SKIP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// Replies are sent.
    On,
    /// No replies are sent.
    Off,
    /// The reply to the next command is not sent.
    SkipNext,
    /// The reply to the current command is not sent (SKIP took effect).
    Skipping,
}

/// Read/write quorum overrides set with `KV.CONSISTENCY` (`None` = cluster default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Consistency {
    /// Replicas that must answer a read.
    pub r: Option<usize>,
    /// Replicas that must acknowledge a write.
    pub w: Option<usize>,
    /// Count only primary replicas toward W (no sloppy quorum).
    pub strict: bool,
}

/// One client connection's command state.
pub struct Session {
    /// The registry entry (id, addresses, name…), shared with `CLIENT LIST`/`KILL`.
    pub client: Arc<ClientEntry>,
    /// RESP2 or RESP3.
    pub proto: Protocol,
    /// Whether AUTH (or no password) lets commands run.
    pub authenticated: bool,
    /// Reply suppression.
    pub reply_mode: ReplyMode,
    /// Close the connection after this batch's replies are written (QUIT, CLIENT KILL of self).
    pub close: bool,
    /// What the current batch's commands wrote, recorded by the coordinator: replies wait for a
    /// durability commit when anything was written.
    pub writes: Writes,
    /// Quorum overrides.
    pub consistency: Consistency,
}

impl Session {
    /// A fresh session for a new connection.
    pub fn new(client: Arc<ClientEntry>, authenticated: bool) -> Session {
        Session {
            client,
            proto: Protocol::Resp2,
            authenticated,
            reply_mode: ReplyMode::On,
            close: false,
            writes: Writes::default(),
            consistency: Consistency::default(),
        }
    }

    /// Records the command being run (for `CLIENT LIST cmd=` and idle time).
    pub fn note_command(&self, name: &'static str) {
        self.client.note_command(name);
    }
}
