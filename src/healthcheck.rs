//! `cartwheel ping`: a health check that needs neither a shell nor `redis-cli` (the container
//! image has neither). It reads the same configuration as the server — file, `CARTWHEEL_*`
//! environment, flags — so `HEALTHCHECK CMD ["cartwheel", "ping"]` follows the node's port and
//! password, sends `PING` (after `AUTH` when a password is set) and exits 0 only on `+PONG`.
//! Connecting and the reply share one deadline. `--host` pings another node by name or address
//! (this also exercises name resolution inside the image).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use thiserror::Error;

use cartwheel::config::{Config, ConfigError, Overrides};

/// Options of `cartwheel ping`.
#[derive(Debug, clap::Args)]
pub struct PingArgs {
    /// Host to ping (default: the node's first bind address; loopback when that is 0.0.0.0 / ::).
    #[arg(long)]
    pub host: Option<String>,
    /// Client port (default: the configured port).
    #[arg(long, short = 'p')]
    pub port: Option<u16>,
    /// Deadline for connecting and the reply, milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
}

/// Why a ping failed (any of them makes the health check fail).
#[derive(Debug, Error)]
pub enum PingError {
    /// The configuration the server would use is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The host name did not resolve.
    #[error("cannot resolve {0}")]
    Resolve(String),
    /// Connecting, writing or reading failed or passed the deadline.
    #[error("{addr}: {source}")]
    Io {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The node answered something other than `+PONG`.
    #[error("{addr} answered {reply:?}")]
    Reply {
        /// Where.
        addr: SocketAddr,
        /// What it said (first line).
        reply: String,
    },
}

/// Pings the node the configuration describes; `Ok` only on `+PONG`.
pub fn run(overrides: &Overrides, args: &PingArgs) -> Result<(), PingError> {
    let cfg = Config::load(overrides)?;
    let port = args.port.unwrap_or(cfg.port);
    let addr = match &args.host {
        Some(host) => resolve(host, port)?,
        None => SocketAddr::new(local_ip(cfg.bind.first().map(String::as_str)), port),
    };
    let deadline = Instant::now() + Duration::from_millis(args.timeout_ms.max(1));
    ping(addr, cfg.requirepass.as_deref(), deadline)?;
    println!("PONG from {addr}");
    Ok(())
}

/// The address to reach a node bound to `bind` from the same host.
fn local_ip(bind: Option<&str>) -> IpAddr {
    match bind.and_then(|b| b.parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(ip)) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(IpAddr::V6(ip)) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        Some(ip) => ip,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, PingError> {
    (host, port).to_socket_addrs().ok().and_then(|mut it| it.next()).ok_or_else(|| PingError::Resolve(host.into()))
}

fn ping(addr: SocketAddr, password: Option<&str>, deadline: Instant) -> Result<(), PingError> {
    let io = |source| PingError::Io { addr, source };
    let left = || deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    let mut s = TcpStream::connect_timeout(&addr, left()).map_err(io)?;
    let mut request = Vec::new();
    let mut expected = Vec::new();
    if let Some(p) = password {
        request.extend_from_slice(format!("*2\r\n$4\r\nAUTH\r\n${}\r\n", p.len()).as_bytes());
        request.extend_from_slice(p.as_bytes());
        request.extend_from_slice(b"\r\n");
        expected.extend_from_slice(b"+OK\r\n");
    }
    request.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    expected.extend_from_slice(b"+PONG\r\n");
    s.set_write_timeout(Some(left())).map_err(io)?;
    s.write_all(&request).map_err(io)?;
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < expected.len() && expected.starts_with(&got) {
        s.set_read_timeout(Some(left())).map_err(io)?;
        match s.read(&mut buf).map_err(io)? {
            0 => break,
            n => got.extend_from_slice(&buf[..n]),
        }
    }
    if got == expected {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&got);
    let reply = text.lines().find(|l| !l.starts_with("+OK")).unwrap_or("(nothing)").to_string();
    Err(PingError::Reply { addr, reply })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-connection fake server that answers `reply` once it has read `expect`.
    fn fake(expect: &'static [u8], reply: &'static [u8]) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut got = vec![0u8; expect.len()];
            s.read_exact(&mut got).unwrap();
            assert_eq!(got, expect);
            s.write_all(reply).unwrap();
        });
        addr
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn pong_passes_anything_else_fails() {
        ping(fake(b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n"), None, soon()).unwrap();
        let err = ping(fake(b"*1\r\n$4\r\nPING\r\n", b"-LOADING busy\r\n"), None, soon()).unwrap_err();
        assert!(matches!(&err, PingError::Reply { reply, .. } if reply == "-LOADING busy"), "{err}");
    }

    #[test]
    fn password_is_sent_first_and_its_refusal_fails() {
        let auth = b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*1\r\n$4\r\nPING\r\n";
        ping(fake(auth, b"+OK\r\n+PONG\r\n"), Some("pw"), soon()).unwrap();
        let err = ping(fake(auth, b"-WRONGPASS invalid\r\n-NOAUTH\r\n"), Some("pw"), soon()).unwrap_err();
        assert!(matches!(&err, PingError::Reply { reply, .. } if reply.starts_with("-WRONGPASS")), "{err}");
    }

    #[test]
    fn silence_fails_at_the_deadline_and_nobody_listening_fails() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let silent = l.local_addr().unwrap();
        let started = Instant::now();
        assert!(matches!(ping(silent, None, Instant::now() + Duration::from_millis(200)), Err(PingError::Io { .. })));
        assert!(started.elapsed() < Duration::from_secs(3), "the deadline bounds the wait");
        drop(l);
        assert!(ping(silent, None, soon()).is_err());
    }

    #[test]
    fn unspecified_bind_addresses_are_pinged_on_loopback() {
        assert_eq!(local_ip(Some("0.0.0.0")), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(local_ip(Some("::")), IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(local_ip(Some("10.1.2.3")), "10.1.2.3".parse::<IpAddr>().unwrap());
        assert_eq!(resolve("localhost", 7).map(|a| a.port()).ok(), Some(7));
        assert!(matches!(resolve("no-such-host.invalid", 7), Err(PingError::Resolve(_))));
    }
}
