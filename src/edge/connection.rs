//! One client connection: read a batch of bytes, run every complete request in it, write all
//! replies with one syscall.
//!
//! Pipelining falls out of the batch loop: a client that sends 16 commands at once gets 16
//! replies in one write. Writes of a batch become durable once ([`Durability::commit`]) before
//! its replies leave; `commit` lets the other ready connections run first, so one journal write
//! (or fsync) covers the batches of every client served in the same scheduler round. Bad framing gets Redis's `-ERR Protocol error: …` and a close;
//! a client whose unparsed input exceeds `client-query-buffer-limit` is closed; an idle client is
//! closed after `timeout` seconds; `CLIENT KILL` and shutdown close it between batches.
//!
//! [`Durability::commit`]: crate::storage::Durability::commit

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::early_ack;
use crate::command::{Context, ReplyMode, Session};
use crate::resp::clients::ClientEntry;
use crate::resp::parser::{ParserLimits, RequestParser};
use crate::router;

const READ_CHUNK: usize = 16 * 1024;
/// Replies buffered past this size are written out mid-batch.
const FLUSH_AT: usize = 64 * 1024;

/// Why a connection ended (for logs).
#[derive(Debug)]
enum End {
    ClientClosed,
    Quit,
    Killed,
    Idle,
    Protocol,
    QueryBufferLimit,
    Io(#[allow(dead_code)] std::io::Error),
    Durability,
}

/// Serves one client until it leaves or is told to go.
pub async fn serve(node: Arc<Context>, mut stream: TcpStream, client: Arc<ClientEntry>) {
    let authenticated = node.config().requirepass.is_none();
    let mut session = Session::new(Arc::clone(&client), authenticated);
    let end = run(&node, &mut stream, &mut session).await;
    tracing::debug!(id = client.id, addr = %client.addr, reason = ?end, "client closed");
    let _ = stream.shutdown().await;
    node.clients.unregister(client.id);
}

fn limits(node: &Context) -> ParserLimits {
    ParserLimits { max_bulk_len: node.config().proto_max_bulk_len, ..ParserLimits::default() }
}

async fn run(node: &Arc<Context>, stream: &mut TcpStream, s: &mut Session) -> End {
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut wbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::new(limits(node));
    parser.set_auth_required(!s.authenticated);
    loop {
        let reserve = parser.bytes_needed().unwrap_or(0).clamp(READ_CHUNK, 1 << 20);
        rbuf.reserve(reserve);
        let idle = node.config().timeout;
        let read = async {
            if idle == 0 {
                Some(stream.read_buf(&mut rbuf).await)
            } else {
                tokio::time::timeout(Duration::from_secs(idle), stream.read_buf(&mut rbuf)).await.ok()
            }
        };
        let n = tokio::select! {
            biased;
            r = read => match r {
                None => return End::Idle,
                Some(Ok(0)) => return End::ClientClosed,
                Some(Ok(n)) => n,
                Some(Err(e)) => return End::Io(e),
            },
            () = s.client.kill.notified() => return End::Killed,
        };
        node.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);

        let mut failed = None;
        loop {
            match parser.parse(&mut rbuf) {
                Ok(Some(args)) => {
                    let reply = match early_ack::intercept(node, s, args) {
                        Ok(reply) => reply,
                        Err(args) => router::execute(node, s, args).await,
                    };
                    if should_send(s) {
                        reply.encode(s.proto, &mut wbuf);
                    }
                    if s.close {
                        break;
                    }
                    if wbuf.len() >= FLUSH_AT {
                        if let Err(e) = flush(node, stream, s, &mut wbuf).await {
                            return e;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let mut line = b"-ERR ".to_vec();
                    line.extend_from_slice(&e.message_bytes());
                    line.extend_from_slice(b"\r\n");
                    wbuf.extend_from_slice(&line);
                    failed = Some(End::Protocol);
                    break;
                }
            }
        }
        parser.set_auth_required(!s.authenticated);
        if let Err(e) = flush(node, stream, s, &mut wbuf).await {
            return e;
        }
        if let Some(end) = failed {
            return end;
        }
        if s.close {
            return End::Quit;
        }
        if rbuf.len() > node.config().client_query_buffer_limit {
            tracing::warn!(addr = %s.client.addr, "closing client that reached max query buffer length");
            return End::QueryBufferLimit;
        }
    }
}

/// Applies `CLIENT REPLY` to the reply of the command just run.
fn should_send(s: &mut Session) -> bool {
    match s.reply_mode {
        ReplyMode::On => true,
        ReplyMode::Off => false,
        ReplyMode::SkipNext => {
            s.reply_mode = ReplyMode::Skipping;
            false
        }
        ReplyMode::Skipping => {
            s.reply_mode = ReplyMode::On;
            false
        }
    }
}

/// Makes the batch's writes durable, then writes the buffered replies.
async fn flush(node: &Context, stream: &mut TcpStream, s: &mut Session, wbuf: &mut BytesMut) -> Result<(), End> {
    if s.writes.take_durable() {
        if let Err(e) = node.coord.durability().commit().await {
            tracing::error!(error = %e, "durability commit failed; closing client without acknowledging");
            return Err(End::Durability);
        }
    }
    if wbuf.is_empty() {
        return Ok(());
    }
    node.stats.net_output_bytes.fetch_add(wbuf.len() as u64, Ordering::Relaxed);
    stream.write_all(wbuf).await.map_err(End::Io)?;
    wbuf.clear();
    Ok(())
}
