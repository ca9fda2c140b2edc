//! What happened during a run: every client operation with its outcome and latency, the phases
//! (healthy, or which fault was in force) and the nemesis log with timestamps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// How an operation ended, from the client's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged.
    Ok,
    /// A definite error reply or no connection (the request may still have been partly applied
    /// when the server answered an error such as NOQUORUM).
    Fail,
    /// Timed out or the connection broke: may or may not have happened, and may still happen.
    Unknown,
    /// An error reply (`NOQUORUM`…) to the overwrite and mix workloads: not acknowledged, may
    /// have been partly applied, but the server is done with it (the other workloads record
    /// error replies as `Fail`).
    Error,
}

/// One client operation.
#[derive(Debug, Clone)]
pub struct Op {
    /// `set`, `get`, `kv.get`, `kv.put`, `kv.del`; the overwrite and mix workloads' `ow.set`,
    /// `mix.set`, `mix.getset`, `mix.del`, `mix.expire`, `mix.pexpire`.
    pub kind: &'static str,
    pub key: String,
    /// The value written (`set`, `kv.put`) or read (`get`).
    pub value: Option<String>,
    /// The values the read before a `kv.put`/`kv.del` returned (what its context covers), or
    /// what a `kv.get` returned.
    pub seen: Vec<String>,
    /// The causal context a `kv.get` returned or a `kv.put`/`kv.del` sent.
    pub context: Option<String>,
    /// The reply as text when it carries information (`DEL`/`EXPIRE` counts, `GETSET`'s old
    /// value); `None` for nil, a plain `+OK` or no reply.
    pub reply: Option<String>,
    /// The time to live an `EXPIRE`/`PEXPIRE` asked for, in milliseconds.
    pub ttl_ms: Option<u64>,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub start_ms: u64,
    /// The start again, in microseconds since the run started (ordering operations of different
    /// clients needs more than milliseconds).
    pub start_us: u64,
    pub latency_us: u64,
    pub phase: usize,
}

impl Op {
    /// When the client had its answer (or gave up), in microseconds since the run started.
    pub fn end_us(&self) -> u64 {
        self.start_us + self.latency_us
    }
}

/// A stretch of the run with one fault state.
#[derive(Debug, Clone)]
pub struct Phase {
    /// `healthy`, a fault kind (`kill`, `partition`, …) or `final`.
    pub name: String,
    pub start_ms: u64,
}

/// One nemesis action.
#[derive(Debug, Clone)]
pub struct Event {
    pub t_ms: u64,
    pub unix_ms: u64,
    /// `start` or `heal`.
    pub action: &'static str,
    pub fault: String,
}

/// The shared recorder.
pub struct Recorder {
    start: Instant,
    ops: Mutex<Vec<Op>>,
    phase: AtomicUsize,
    phases: Mutex<Vec<Phase>>,
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            ops: Mutex::new(Vec::new()),
            phase: AtomicUsize::new(0),
            phases: Mutex::new(vec![Phase { name: "healthy".into(), start_ms: 0 }]),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Microseconds since the run started.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// The phase operations starting now belong to.
    pub fn phase(&self) -> usize {
        self.phase.load(Ordering::Relaxed)
    }

    /// Begins a new phase.
    pub fn enter(&self, name: &str) {
        let mut phases = lock(&self.phases);
        phases.push(Phase { name: name.to_string(), start_ms: self.now_ms() });
        self.phase.store(phases.len() - 1, Ordering::Relaxed);
    }

    /// Logs a nemesis action (and prints it).
    pub fn event(&self, action: &'static str, fault: String) {
        let t_ms = self.now_ms();
        let unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        println!("  [{:>8.3}s] nemesis {action:<5} {fault}", t_ms as f64 / 1000.0);
        lock(&self.events).push(Event { t_ms, unix_ms, action, fault });
    }

    pub fn record(&self, op: Op) {
        lock(&self.ops).push(op);
    }

    pub fn ops(&self) -> Vec<Op> {
        lock(&self.ops).clone()
    }

    pub fn phases(&self) -> Vec<Phase> {
        lock(&self.phases).clone()
    }

    pub fn events(&self) -> Vec<Event> {
        lock(&self.events).clone()
    }
}

/// Locks a mutex, ignoring poisoning (a panicked client task must not hide the history).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
