//! The client edge: the listener and one loop per connection.
//!
//! [`listener`] accepts connections (maxclients, protected mode) and runs one [`connection`]
//! loop per client: read → `resp::parser` → `router::execute` → `resp::reply` encoding → one
//! write per read batch. [`early_ack`] is the fault-injection checker's self-test knob (off unless
//! `debug-unsafe-early-ack-ms` is set), kept out of the connection loop.

pub mod connection;
mod early_ack;
pub mod listener;

pub use listener::accept_loop;
