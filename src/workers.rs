//! The node's background workers, started through one place and listed in `INFO workers`.
//!
//! Every long-running task of a node that is not a client or peer connection — gossip, hint
//! replay, the expiry/reap sweep, the topology updater, the rates sampler, and later
//! anti-entropy and slot transfer — is started with [`Workers::spawn`] under a fixed name. The
//! worker gets a [`Beat`] and calls [`Beat::ran`] after each round of work; `INFO workers` shows
//! each worker's state (`running`, `stopped`), its rounds and how long ago the last one ended, so
//! a stuck worker is visible. The tasks are tracked by the node's task tracker: shutdown waits for
//! them (bounded) like for connections.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::task::TaskTracker;

/// The pace of a worker that wakes every `period` until its node shuts down: a tick that comes
/// late is delayed, not bunched with the next.
pub struct Pace {
    tick: tokio::time::Interval,
    shutdown: watch::Receiver<bool>,
}

impl Pace {
    /// Every `period` (the first tick at once) until `shutdown` turns true.
    pub fn every(period: Duration, shutdown: watch::Receiver<bool>) -> Pace {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Pace { tick, shutdown }
    }

    /// Waits for the next tick; false once the node shuts down (then the worker returns).
    pub async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.tick.tick() => {}
            _ = self.shutdown.changed() => return false,
        }
        !*self.shutdown.borrow()
    }

    /// Resolves when the node shuts down (to cut a round short).
    pub async fn stopped(&mut self) {
        let _ = self.shutdown.wait_for(|s| *s).await;
    }
}

/// One worker's public state.
#[derive(Debug)]
struct State {
    name: &'static str,
    running: AtomicBool,
    rounds: AtomicU64,
    /// Microseconds after `Workers::epoch` when the last round ended (0: none yet).
    last_round_us: AtomicU64,
}

/// What a worker holds to report its rounds.
#[derive(Debug, Clone)]
pub struct Beat {
    state: Arc<State>,
    epoch: Instant,
}

impl Beat {
    /// Records that the worker finished one round of work now.
    pub fn ran(&self) {
        let us = self.epoch.elapsed().as_micros().max(1) as u64;
        self.state.last_round_us.store(us, Ordering::Relaxed);
        self.state.rounds.fetch_add(1, Ordering::Relaxed);
    }

    /// A beat that belongs to no registry (tests that run a worker loop by itself).
    pub fn detached(name: &'static str) -> Beat {
        Beat { state: Arc::new(State::new(name)), epoch: Instant::now() }
    }
}

impl State {
    fn new(name: &'static str) -> State {
        State { name, running: AtomicBool::new(true), rounds: AtomicU64::new(0), last_round_us: AtomicU64::new(0) }
    }
}

/// A worker as `INFO workers` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    /// Its name.
    pub name: &'static str,
    /// Whether its task is still running.
    pub running: bool,
    /// Rounds of work done.
    pub rounds: u64,
    /// Milliseconds since its last round ended (`None`: no round yet).
    pub last_round_ms_ago: Option<u64>,
}

/// The registry of one node's workers.
pub struct Workers {
    tasks: TaskTracker,
    epoch: Instant,
    list: Mutex<Vec<Arc<State>>>,
}

/// Marks a worker stopped when its task ends, however it ends.
struct Stopped(Arc<State>);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Relaxed);
    }
}

impl Workers {
    /// A registry whose workers run on `tasks`.
    pub fn new(tasks: TaskTracker) -> Workers {
        Workers { tasks, epoch: Instant::now(), list: Mutex::new(Vec::new()) }
    }

    /// Starts the worker `name`: `work` gets its [`Beat`] and returns the task to run.
    pub fn spawn<F>(&self, name: &'static str, work: impl FnOnce(Beat) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let state = Arc::new(State::new(name));
        self.list.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::clone(&state));
        let task = work(Beat { state: Arc::clone(&state), epoch: self.epoch });
        let stopped = Stopped(state);
        self.tasks.spawn(async move {
            let _stopped = stopped;
            task.await;
        });
    }

    /// Every worker started so far, in start order.
    pub fn list(&self) -> Vec<WorkerInfo> {
        let now_us = self.epoch.elapsed().as_micros() as u64;
        let list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        list.iter()
            .map(|s| {
                let last = s.last_round_us.load(Ordering::Relaxed);
                WorkerInfo {
                    name: s.name,
                    running: s.running.load(Ordering::Relaxed),
                    rounds: s.rounds.load(Ordering::Relaxed),
                    last_round_ms_ago: (last > 0).then(|| now_us.saturating_sub(last) / 1000),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_worker_is_listed_with_its_rounds_and_marked_stopped_when_it_ends() {
        let tasks = TaskTracker::new();
        let workers = Workers::new(tasks.clone());
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        workers.spawn("ticker", |beat| async move {
            beat.ran();
            beat.ran();
            let _ = wait.await;
        });
        for _ in 0..100 {
            if workers.list()[0].rounds == 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
        let listed = workers.list();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].name, listed[0].rounds), ("ticker", 2));
        assert!(listed[0].running);
        assert!(listed[0].last_round_ms_ago.is_some());
        go.send(()).unwrap();
        tasks.close();
        tasks.wait().await;
        assert!(!workers.list()[0].running, "a finished worker shows as stopped");
    }

    #[tokio::test]
    async fn a_worker_that_never_ran_a_round_says_so() {
        let workers = Workers::new(TaskTracker::new());
        workers.spawn("idle", |_beat| std::future::pending());
        assert_eq!(workers.list()[0].last_round_ms_ago, None);
    }
}
