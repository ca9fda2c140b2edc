//! The one writer task of a connection (client and server alike): it owns the [`FrameSink`],
//! takes the first queued frame, then every frame already waiting behind it (up to
//! [`MAX_BATCH`]), and flushes once — so N frames queued while the previous batch was on the wire
//! leave in one write, not N (write coalescing: one syscall per batch).

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::SinkExt;
use tokio::sync::mpsc;

use super::stats::{add, Counters};
use crate::net::FrameSink;

/// Most frames written before a flush even if more are queued, so early frames are not held back.
pub const MAX_BATCH: usize = 1024;

/// Writes queued frames until every sender is gone (then closes the sink) or the sink fails.
pub(crate) async fn run(mut sink: FrameSink, mut queue: mpsc::Receiver<Bytes>, stats: Arc<Counters>) -> io::Result<()> {
    while let Some(first) = queue.recv().await {
        let mut frames = 1u64;
        let mut bytes = first.len() as u64;
        sink.feed(first).await?;
        // Let every other ready task run first (Redis's `beforeSleep`): on a busy node the
        // answers and requests they produce join this write instead of each costing one.
        tokio::task::yield_now().await;
        while frames < MAX_BATCH as u64 {
            let Ok(frame) = queue.try_recv() else { break };
            frames += 1;
            bytes += frame.len() as u64;
            sink.feed(frame).await?;
        }
        sink.flush().await?;
        add(&stats.flushes, 1);
        add(&stats.frames_sent, frames);
        add(&stats.bytes_sent, bytes);
    }
    sink.close().await
}
