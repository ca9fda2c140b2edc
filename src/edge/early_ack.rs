//! A deliberately broken acknowledgement, for the fault-injection checker's self-test only
//! (`debug-unsafe-early-ack-ms`, off by default).
//!
//! When it is on, a client's plain `SET key value` and `KV.PUT key context value` are answered
//! `+OK` at once and handed to a background task that runs them `debug-unsafe-early-ack-ms`
//! later through the ordinary command path. The acknowledgement thus comes before W replicas —
//! before any — hold the write, as with asynchronous replication, and a crash of this node loses
//! every write still waiting. `tests/chaos` runs the checker against a cluster in this mode and
//! requires it to report lost writes, so we know the checker is not a rubber stamp.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::command::{Context, Session};
use crate::resp::reply::Reply;

/// Answers `args` early (and schedules them) when the unsafe mode is on and the command is one it
/// covers; otherwise gives `args` back to be run normally.
pub fn intercept(node: &Arc<Context>, s: &Session, args: Vec<Bytes>) -> Result<Reply, Vec<Bytes>> {
    let delay = node.config().debug_unsafe_early_ack_ms;
    if delay == 0 || !s.authenticated || !covered(&args) {
        return Err(args);
    }
    let node = Arc::clone(node);
    let mut later = Session::new(Arc::clone(&s.client), true);
    later.consistency = s.consistency;
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let reply = crate::router::execute(&node, &mut later, args).await;
        if let Reply::Error(e) = reply {
            tracing::warn!(error = %e, "an early-acknowledged write failed");
        }
    });
    Ok(Reply::ok())
}

/// `SET key value` without options, or `KV.PUT key context value` without expiry: the commands
/// whose success reply is a plain `+OK`.
fn covered(args: &[Bytes]) -> bool {
    match args.first() {
        Some(name) if name.eq_ignore_ascii_case(b"set") => args.len() == 3,
        Some(name) if name.eq_ignore_ascii_case(b"kv.put") => args.len() == 4,
        _ => false,
    }
}
