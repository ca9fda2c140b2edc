//! Logging that can neither block nor panic the server (called by `main` once at start; `INFO
//! cartwheel` reads its counters).
//!
//! `tracing`'s own stderr writer reports a failed write with `eprintln!`, which panics when
//! stderr itself is broken — `cartwheel | tee log` after the `tee` died turned every log line into
//! a panic of whichever task logged it, among them the one that handles SIGTERM. Here a log line
//! is handed to a bounded channel and written to stderr by a dedicated thread: a full channel
//! drops the line ([`log_dropped`]), a failed write drops it too ([`log_write_errors`]), and the
//! logging call always returns at once.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Log lines waiting for the writer thread, at most.
const QUEUE_LINES: usize = 4096;

static DROPPED: AtomicU64 = AtomicU64::new(0);
static WRITE_ERRORS: AtomicU64 = AtomicU64::new(0);
/// Lines queued and not yet written (or dropped by the writer).
static PENDING: AtomicU64 = AtomicU64::new(0);

/// Log lines dropped because the queue to the writer thread was full (or the thread was gone).
pub fn log_dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Log lines lost because writing them to stderr failed (a closed pipe, a full disk…).
pub fn log_write_errors() -> u64 {
    WRITE_ERRORS.load(Ordering::Relaxed)
}

/// The `MakeWriter` of the non-blocking logger: every event becomes one queued line.
#[derive(Clone)]
pub struct QueueWriter {
    tx: SyncSender<Vec<u8>>,
}

impl QueueWriter {
    /// A writer whose lines go to `sink` from a thread named `cartwheel-log` (stderr in the
    /// server; a buffer in tests).
    pub fn spawn(sink: impl Write + Send + 'static) -> std::io::Result<QueueWriter> {
        let (tx, rx) = sync_channel(QUEUE_LINES);
        std::thread::Builder::new().name("cartwheel-log".into()).spawn(move || drain(rx, sink))?;
        Ok(QueueWriter { tx })
    }
}

impl Write for QueueWriter {
    /// Queues `buf` (one formatted event) and reports it written, whatever happens to it.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        PENDING.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(buf.to_vec()) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                PENDING.fetch_sub(1, Ordering::Relaxed);
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for QueueWriter {
    type Writer = QueueWriter;

    fn make_writer(&'a self) -> QueueWriter {
        self.clone()
    }
}

fn drain(rx: Receiver<Vec<u8>>, mut sink: impl Write) {
    while let Ok(line) = rx.recv() {
        if sink.write_all(&line).and_then(|()| sink.flush()).is_err() {
            WRITE_ERRORS.fetch_add(1, Ordering::Relaxed);
        }
        PENDING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Installs the global subscriber: `loglevel` (`debug`, `verbose`, `notice`, `warning`) unless
/// `CARTWHEEL_LOG` gives a filter, lines to stderr through the writer thread.
pub fn init(loglevel: &str) {
    let default = match loglevel {
        "debug" => "debug",
        "verbose" => "info,cartwheel=debug",
        "warning" => "warn",
        _ => "info",
    };
    let filter = EnvFilter::try_from_env("CARTWHEEL_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match QueueWriter::spawn(std::io::stderr()) {
        Ok(w) => builder.with_writer(w).init(),
        // No thread for the writer: no logs rather than a logger that can block or panic.
        Err(_) => builder.with_writer(std::io::sink).init(),
    }
}

/// Waits (at most `within`) until every queued line has been written — before the process exits.
pub fn flush(within: Duration) {
    let deadline = Instant::now() + within;
    while PENDING.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that fails every write, like a pipe whose reader is gone.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_broken_sink_counts_errors_and_never_fails_the_caller() {
        let before = log_write_errors();
        let mut w = QueueWriter::spawn(Broken).unwrap();
        for _ in 0..10 {
            assert_eq!(w.write(b"line\n").unwrap(), 5);
        }
        let start = Instant::now();
        while log_write_errors() < before + 10 {
            assert!(start.elapsed() < Duration::from_secs(5), "every failed write is counted");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A sink that never returns: the queue fills and further lines are dropped, not waited for.
    struct Stuck;

    impl Write for Stuck {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            loop {
                std::thread::park();
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_sink_drops_lines_instead_of_blocking() {
        let before = log_dropped();
        let mut w = QueueWriter::spawn(Stuck).unwrap();
        let start = Instant::now();
        for _ in 0..QUEUE_LINES + 100 {
            w.write_all(b"line\n").unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(log_dropped() >= before + 99, "lines beyond the queue are dropped and counted");
    }
}
