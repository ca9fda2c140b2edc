//! The client protocol: bytes in, bytes out, below the commands.
//!
//! [`parser`] turns bytes into requests with Redis's limits and errors; [`reply`] encodes
//! replies for RESP2/RESP3 ([`reply_depth`] bounds their nesting); [`clients`] is the registry
//! behind `CLIENT LIST/KILL`. The connection loop that uses them is `crate::edge`.

pub mod clients;
pub mod parser;
pub mod reply;
pub mod reply_depth;
