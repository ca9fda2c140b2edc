//! The authenticated handshake that opens every connection, before any request frame. Both sides
//! prove they know the cluster secret without sending it, agree on cluster name and protocol
//! version, and learn each other's node id and advertised address ([`PeerInfo`]).
//!
//! ```text
//! dialer                                              listener
//!   Hello     { magic, id_d, addr_d, nonce_d, name } ──▶  check version, magic, name
//!           ◀── Challenge { id_l, addr_l, nonce_l, name, proof_l = HMAC(secret, "listener" ‖ T) }
//!   check version, name, proof_l
//!   Auth      { proof_d = HMAC(secret, "dialer" ‖ T) } ──▶  check proof_d
//!           ◀── Welcome                      (or Refuse { reason } and close, from either side)
//! ```
//!
//! Every handshake frame carries the sender's transport-clock stamp (`clock.rs`); the dialer turns
//! the listener's Challenge and Welcome stamps into its first [`PeerClock`] sample, so the first
//! request on a connection already carries a deadline the listener can check.
//!
//! `T` is the transcript: protocol version, cluster name and both sides' id, address and fresh
//! 32-byte nonce from the OS RNG, so a proof is bound to this connection and cannot be replayed on
//! another, and the two labels stop a listener's proof from being reflected as a dialer's. Proofs
//! are checked in constant time (`Mac::verify_slice`). Callers (client `conn`, `server`) put a
//! deadline on the whole exchange and log refusals with the peer's address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::clock::PeerClock;
use super::frame::{self, Kind, PROTOCOL_VERSION};
use super::{PeerInfo, RpcConfig, RpcError};
use crate::net::Connection;
use crate::version::NodeId;

/// Marks a Hello as ours, so a stray client of another protocol is told apart from a bad secret.
pub(crate) const MAGIC: &[u8; 4] = b"CWRP";

/// The handshake fields one side contributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Side {
    pub node_id: NodeId,
    pub advertise: SocketAddr,
    pub nonce: [u8; 32],
    pub cluster_name: String,
}

impl Side {
    fn ours(cfg: &RpcConfig) -> Result<Side, RpcError> {
        let mut nonce = [0u8; 32];
        getrandom::fill(&mut nonce).map_err(|e| RpcError::Auth(format!("no randomness for a nonce: {e}")))?;
        Ok(Side { node_id: cfg.node_id, advertise: cfg.advertise, nonce, cluster_name: cfg.cluster_name.clone() })
    }

    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_slice(&self.node_id.0);
        match self.advertise.ip() {
            IpAddr::V4(ip) => {
                buf.put_u8(4);
                buf.put_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                buf.put_u8(6);
                buf.put_slice(&ip.octets());
            }
        }
        buf.put_u16(self.advertise.port());
        buf.put_slice(&self.nonce);
        let name = self.cluster_name.as_bytes();
        buf.put_u16(u16::try_from(name.len()).unwrap_or(u16::MAX));
        buf.put_slice(&name[..name.len().min(usize::from(u16::MAX))]);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Side, RpcError> {
        let node_id = NodeId(r.array()?);
        let ip = match r.take(1)?[0] {
            4 => IpAddr::V4(Ipv4Addr::from(r.array::<4>()?)),
            6 => IpAddr::V6(Ipv6Addr::from(r.array::<16>()?)),
            other => return Err(RpcError::Codec(format!("unknown address family {other} in handshake"))),
        };
        let port = u16::from_be_bytes(r.array()?);
        let nonce = r.array()?;
        let len = u16::from_be_bytes(r.array()?);
        let name = r.take(usize::from(len))?;
        let cluster_name = String::from_utf8_lossy(name).into_owned();
        Ok(Side { node_id, advertise: SocketAddr::new(ip, port), nonce, cluster_name })
    }
}

/// Bounds-checked reads from a handshake payload (never panics on short input).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RpcError> {
        if self.0.len() < n {
            return Err(RpcError::Codec("truncated handshake frame".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RpcError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

/// The MAC over the transcript, with `label` saying which side proves.
fn proof_mac(secret: &str, label: &[u8], dialer: &Side, listener: &Side) -> Result<Hmac<Sha256>, RpcError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .map_err(|e| RpcError::Auth(format!("unusable cluster secret: {e}")))?;
    mac.update(b"cartwheel-rpc ");
    mac.update(label);
    mac.update(&[PROTOCOL_VERSION]);
    let mut t = BytesMut::new();
    dialer.encode(&mut t);
    listener.encode(&mut t);
    mac.update(&t);
    Ok(mac)
}

/// The proof one side sends.
pub(crate) fn proof(secret: &str, label: &[u8], dialer: &Side, listener: &Side) -> Result<[u8; 32], RpcError> {
    Ok(proof_mac(secret, label, dialer, listener)?.finalize().into_bytes().into())
}

pub(crate) fn verify(secret: &str, label: &[u8], dialer: &Side, listener: &Side, tag: &[u8]) -> Result<bool, RpcError> {
    Ok(proof_mac(secret, label, dialer, listener)?.verify_slice(tag).is_ok())
}

async fn send(conn: &mut Connection, cfg: &RpcConfig, kind: Kind, payload: &[u8]) -> Result<(), RpcError> {
    let (stamp, wall) = (cfg.clock.now_us(), cfg.wall.now_us());
    conn.sink.send(frame::encode(kind, 0, stamp, wall, payload)).await.map_err(|e| RpcError::io(&e))
}

async fn recv(conn: &mut Connection) -> Result<frame::Frame, RpcError> {
    match conn.stream.next().await {
        None => Err(RpcError::Closed),
        Some(Err(e)) => Err(RpcError::io(&e)),
        Some(Ok(bytes)) => frame::decode(bytes),
    }
}

/// Sends a Refuse (best effort) and returns the error to report locally.
async fn refuse(conn: &mut Connection, cfg: &RpcConfig, reason: &str) -> RpcError {
    let _ = send(conn, cfg, Kind::Refuse, reason.as_bytes()).await;
    RpcError::Auth(reason.to_string())
}

pub(crate) fn refused(payload: &[u8]) -> RpcError {
    let reason = String::from_utf8_lossy(&payload[..payload.len().min(200)]);
    RpcError::Auth(format!("peer refused: {reason}"))
}

/// Parses a Hello payload: [`MAGIC`], then the dialer's [`Side`] (trailing bytes are ignored).
pub(crate) fn parse_hello(payload: &[u8]) -> Result<Side, RpcError> {
    let mut r = Reader(payload);
    if r.take(MAGIC.len())? != MAGIC {
        return Err(RpcError::Codec("not a cartwheel rpc hello".into()));
    }
    Side::decode(&mut r)
}

/// Parses a Challenge payload: the listener's [`Side`], then its 32-byte proof (trailing bytes
/// are ignored).
pub(crate) fn parse_challenge(payload: &[u8]) -> Result<(Side, [u8; 32]), RpcError> {
    let mut r = Reader(payload);
    let side = Side::decode(&mut r)?;
    Ok((side, r.array()?))
}

pub(crate) fn encode_side(prefix: &[u8], side: &Side, suffix: &[u8]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_slice(prefix);
    side.encode(&mut buf);
    buf.put_slice(suffix);
    buf.freeze()
}

/// The dialer's half: runs the handshake on a fresh connection, returns the listener's identity
/// and what its stamps say of its clock.
pub(crate) async fn dial(conn: &mut Connection, cfg: &RpcConfig) -> Result<(PeerInfo, PeerClock), RpcError> {
    let me = Side::ours(cfg)?;
    let sent = tokio::time::Instant::now();
    send(conn, cfg, Kind::Hello, &encode_side(MAGIC, &me, &[])).await?;
    let reply = recv(conn).await?;
    let received = tokio::time::Instant::now();
    let clock = PeerClock::new(reply.time, cfg.clock.at(received));
    match reply.kind {
        Kind::Refuse => return Err(refused(&reply.payload)),
        Kind::Challenge => {}
        other => return Err(RpcError::Codec(format!("expected a handshake challenge, got {other:?}"))),
    }
    if reply.version != PROTOCOL_VERSION {
        let reason =
            format!("protocol version {} is not supported (this node speaks {PROTOCOL_VERSION})", reply.version);
        return Err(refuse(conn, cfg, &reason).await);
    }
    let (them, tag) = parse_challenge(&reply.payload)?;
    if them.cluster_name != cfg.cluster_name {
        return Err(refuse(conn, cfg, "cluster name mismatch").await);
    }
    if !verify(&cfg.secret, b"listener", &me, &them, &tag)? {
        return Err(refuse(conn, cfg, "the peer could not prove the cluster secret").await);
    }
    // The listener proved the secret: its wall clock may vote for cluster time.
    if let Some(cluster_clock) = &cfg.cluster_clock {
        cluster_clock.sample(them.node_id, reply.wall, sent, received);
    }
    send(conn, cfg, Kind::Auth, &proof(&cfg.secret, b"dialer", &me, &them)?).await?;
    let done = recv(conn).await?;
    match done.kind {
        Kind::Welcome => {
            clock.sample(done.time, cfg.clock.now_us());
            Ok((PeerInfo { node_id: them.node_id, advertise: them.advertise, remote: conn.remote }, clock))
        }
        Kind::Refuse => Err(refused(&done.payload)),
        other => Err(RpcError::Codec(format!("expected a handshake welcome, got {other:?}"))),
    }
}

/// The listener's half: runs the handshake on an accepted connection, returns the dialer's identity.
pub(crate) async fn accept(conn: &mut Connection, cfg: &RpcConfig) -> Result<PeerInfo, RpcError> {
    let hello = recv(conn).await?;
    if hello.kind != Kind::Hello {
        return Err(RpcError::Codec(format!("expected a handshake hello, got {:?}", hello.kind)));
    }
    if hello.version != PROTOCOL_VERSION {
        let reason =
            format!("protocol version {} is not supported (this node speaks {PROTOCOL_VERSION})", hello.version);
        return Err(refuse(conn, cfg, &reason).await);
    }
    let them = parse_hello(&hello.payload)?;
    if them.cluster_name != cfg.cluster_name {
        return Err(refuse(conn, cfg, "cluster name mismatch").await);
    }
    let me = Side::ours(cfg)?;
    let tag = proof(&cfg.secret, b"listener", &them, &me)?;
    send(conn, cfg, Kind::Challenge, &encode_side(&[], &me, &tag)).await?;
    let auth = recv(conn).await?;
    match auth.kind {
        Kind::Auth => {}
        Kind::Refuse => return Err(refused(&auth.payload)),
        other => return Err(RpcError::Codec(format!("expected a handshake auth, got {other:?}"))),
    }
    if !verify(&cfg.secret, b"dialer", &them, &me, &auth.payload)? {
        return Err(refuse(conn, cfg, "authentication failed").await);
    }
    send(conn, cfg, Kind::Welcome, &[]).await?;
    Ok(PeerInfo { node_id: them.node_id, advertise: them.advertise, remote: conn.remote })
}
