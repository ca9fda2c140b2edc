//! SIGINT and SIGTERM for the `cartwheel` binary (the server and `demo`), taken on a dedicated OS
//! thread with `sigwait`, and the shutdown watchdog.
//!
//! The signals are blocked in every thread (call [`block`] before any thread exists) and
//! delivered only to the waiting thread, which does nothing but call the handler: no async
//! runtime, no allocation on the way, so a busy or broken runtime (or a broken log pipe) cannot
//! keep a signal from starting the stop. `std::process::Command` resets the signal mask of the
//! processes it starts, so children are not affected.

use std::io;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// SIGINT and SIGTERM, blocked in the thread that called [`block`] and every thread started after.
pub struct Blocked {
    set: libc::sigset_t,
}

/// Blocks SIGINT and SIGTERM. Call it while the process has a single thread.
pub fn block() -> io::Result<Blocked> {
    // SAFETY: `set` is initialised by sigemptyset before use; the calls only read and write it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        match libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) {
            0 => Ok(Blocked { set }),
            rc => Err(io::Error::from_raw_os_error(rc)),
        }
    }
}

impl Blocked {
    /// Starts the thread that waits for the signals and calls `on_signal(signal, n)` for the n-th.
    pub fn spawn(self, mut on_signal: impl FnMut(i32, u32) + Send + 'static) -> io::Result<()> {
        std::thread::Builder::new().name("cartwheel-signals".into()).spawn(move || {
            let mut count = 0u32;
            loop {
                let mut sig = 0;
                // SAFETY: `self.set` is a valid, initialised signal set; `sig` is a valid out pointer.
                if unsafe { libc::sigwait(&self.set, &mut sig) } != 0 {
                    return;
                }
                count = count.saturating_add(1);
                on_signal(sig, count);
            }
        })?;
        Ok(())
    }
}

/// The name of a signal this module takes.
pub fn name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// Exits the process now with `code`, after giving queued log lines a moment.
pub fn exit_now(code: i32) -> ! {
    cartwheel::telemetry::flush(Duration::from_millis(200));
    std::process::exit(code)
}

/// Starts the watchdog: once `stopping` turns true, the process has `timeout` to finish its
/// graceful stop; past it, it exits with status 2. An OS thread polling the flag, so it fires
/// even if the async runtime is stuck.
pub fn spawn_watchdog(stopping: watch::Receiver<bool>, timeout: Duration) -> io::Result<()> {
    std::thread::Builder::new().name("cartwheel-watchdog".into()).spawn(move || {
        while !*stopping.borrow() {
            if stopping.has_changed().is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let since = Instant::now();
        std::thread::sleep(timeout.saturating_sub(since.elapsed()));
        tracing::error!(timeout_ms = timeout.as_millis() as u64, "graceful shutdown did not finish in time; exiting");
        exit_now(2);
    })?;
    Ok(())
}
