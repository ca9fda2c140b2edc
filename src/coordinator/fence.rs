//! The late-request fence on this node's copy: a request from another node that changes data
//! depending on what this node holds when it runs (a forwarded command, a reap, a flush) must not
//! take effect once the node that sent it stopped waiting — or a forward delivered late (held in
//! TCP buffers across a partition, or read after a `SIGSTOP`) would run with a newer context and
//! timestamp than the writes acknowledged meanwhile and roll them back.
//!
//! The cluster service runs such a request inside [`fenced`] with the caller's deadline in this
//! node's time (`rpc` translates it, see `rpc/clock.rs`). Every path that makes a new version or
//! deletes — [`Coordinator::update`], [`Coordinator::update_many`], [`Coordinator::reap`],
//! [`Coordinator::flush_all`] — calls [`Coordinator::fence`] *under the keys' locks, before* it reads the
//! current state and takes a timestamp, so a version is made while its caller still waits or not
//! at all. Merges of versions that already exist (replica writes, read repair, hints) are not
//! fenced: applying one late changes nothing a reader could tell from applying it on time.
//!
//! Outside [`fenced`] (client commands, background work) the check costs one task-local lookup.

use std::future::Future;

use tokio::time::Instant;

use super::{CoordError, Coordinator};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `f` with its writes fenced at `deadline`.
pub async fn fenced<F: Future>(deadline: Instant, f: F) -> F::Output {
    DEADLINE.scope(deadline, f).await
}

/// `Err(Late)` when the running request is fenced and its deadline has passed.
fn check() -> Result<(), CoordError> {
    match DEADLINE.try_with(|d| *d) {
        Ok(deadline) if Instant::now() >= deadline => Err(CoordError::Late),
        _ => Ok(()),
    }
}

impl Coordinator {
    /// [`check`], counting refusals (`INFO` `late_writes_refused`). Callers hold the keys' locks.
    pub(super) fn fence(&self) -> Result<(), CoordError> {
        check().inspect_err(|_| {
            self.stats.late_writes_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn only_fenced_work_past_its_deadline_is_refused() {
        assert!(check().is_ok(), "unfenced work is never late");
        let deadline = Instant::now() + Duration::from_millis(100);
        fenced(deadline, async {
            assert!(check().is_ok());
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(matches!(check(), Err(CoordError::Late)));
        })
        .await;
        assert!(check().is_ok());
    }
}
