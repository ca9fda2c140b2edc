//! The client edge: bytes in, bytes out.
//!
//! [`server`] accepts connections (maxclients, protected mode) and runs one
//! [`connection`] loop per client: read → [`parser`] → `command::execute` → [`reply`] encoding →
//! one write per read batch. [`clients`] is the registry behind `CLIENT LIST/KILL`.

pub mod clients;
pub mod connection;
mod early_ack;
pub mod parser;
pub mod reply;
pub mod reply_depth;
pub mod server;
