//! The registry of connected clients: what `CLIENT LIST`, `CLIENT INFO` and `CLIENT KILL` see,
//! and how a connection is told to close from elsewhere.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use dashmap::DashMap;
use tokio::sync::Notify;

/// One connected client.
pub struct ClientEntry {
    /// Unique, increasing id (`CLIENT ID`).
    pub id: u64,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub laddr: SocketAddr,
    created: Instant,
    last_active_ms: AtomicU64,
    last_cmd: Mutex<&'static str>,
    /// `CLIENT SETNAME`.
    pub name: Mutex<Option<Bytes>>,
    /// `CLIENT SETINFO LIB-NAME` / `LIB-VER`.
    pub lib: Mutex<(Option<Bytes>, Option<Bytes>)>,
    /// 2 or 3.
    pub resp: AtomicU8,
    /// Signalled to make the connection close.
    pub kill: Notify,
}

impl ClientEntry {
    fn new(id: u64, addr: SocketAddr, laddr: SocketAddr) -> Arc<ClientEntry> {
        Arc::new(ClientEntry {
            id,
            addr,
            laddr,
            created: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            last_cmd: Mutex::new(""),
            name: Mutex::new(None),
            lib: Mutex::new((None, None)),
            resp: AtomicU8::new(2),
            kill: Notify::new(),
        })
    }

    /// An entry for a command run on behalf of another node (id 0, not in any registry).
    pub fn detached(addr: SocketAddr, laddr: SocketAddr) -> Arc<ClientEntry> {
        ClientEntry::new(0, addr, laddr)
    }

    /// Records a command run now.
    pub fn note_command(&self, name: &'static str) {
        self.last_active_ms.store(self.created.elapsed().as_millis() as u64, Ordering::Relaxed);
        *self.last_cmd.lock().unwrap_or_else(PoisonError::into_inner) = name;
    }

    /// Seconds since the connection was accepted.
    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    /// Seconds since the last command.
    pub fn idle_secs(&self) -> u64 {
        let now = self.created.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000
    }

    /// The `CLIENT LIST` line of this client (without the trailing newline).
    pub fn info_line(&self) -> String {
        let name = self.name.lock().unwrap_or_else(PoisonError::into_inner).clone().unwrap_or_default();
        let (lib_name, lib_ver) = self.lib.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let cmd = *self.last_cmd.lock().unwrap_or_else(PoisonError::into_inner);
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 \
             qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r \
             cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            String::from_utf8_lossy(&name),
            self.age_secs(),
            self.idle_secs(),
            if cmd.is_empty() { "NULL" } else { cmd },
            self.resp.load(Ordering::Relaxed),
            String::from_utf8_lossy(&lib_name.unwrap_or_default()),
            String::from_utf8_lossy(&lib_ver.unwrap_or_default()),
        )
    }
}

/// All connected clients.
#[derive(Default)]
pub struct ClientRegistry {
    clients: DashMap<u64, Arc<ClientEntry>>,
    next_id: AtomicU64,
}

impl ClientRegistry {
    /// Registers a new connection.
    pub fn register(&self, addr: SocketAddr, laddr: SocketAddr) -> Arc<ClientEntry> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = ClientEntry::new(id, addr, laddr);
        self.clients.insert(id, Arc::clone(&entry));
        entry
    }

    /// Removes a closed connection.
    pub fn unregister(&self, id: u64) {
        self.clients.remove(&id);
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// All clients, by id.
    pub fn all(&self) -> Vec<Arc<ClientEntry>> {
        let mut v: Vec<_> = self.clients.iter().map(|e| Arc::clone(e.value())).collect();
        v.sort_by_key(|c| c.id);
        v
    }

    /// Tells every connection to close (shutdown).
    pub fn kill_all(&self) {
        for c in &self.clients {
            c.kill.notify_one();
        }
    }
}
