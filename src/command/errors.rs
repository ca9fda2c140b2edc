//! Redis's error replies, word for word, so clients and Redis's own test suite see the text they
//! expect.

use bytes::Bytes;

use crate::coordinator::CoordError;
use crate::resp::reply::Reply;

/// `ERR syntax error`.
pub fn syntax() -> Reply {
    Reply::error("ERR syntax error")
}

/// `ERR value is not an integer or out of range`.
pub fn not_integer() -> Reply {
    Reply::error("ERR value is not an integer or out of range")
}

/// `ERR value is not a valid float`.
pub fn not_float() -> Reply {
    Reply::error("ERR value is not a valid float")
}

/// `ERR invalid expire time in '<cmd>' command`.
pub fn invalid_expire(cmd: &str) -> Reply {
    Reply::error(format!("ERR invalid expire time in '{cmd}' command"))
}

/// `ERR string exceeds maximum allowed size (proto-max-bulk-len)`.
pub fn too_big() -> Reply {
    Reply::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
}

/// `ERR wrong number of arguments for '<cmd>' command`.
pub fn wrong_arity(cmd: &str) -> Reply {
    Reply::error(format!("ERR wrong number of arguments for '{cmd}' command"))
}

/// Redis's unknown-command error, quoting up to 128 bytes of the name and of the arguments.
pub fn unknown_command(name: &Bytes, args: &[Bytes]) -> Reply {
    let mut text = format!("ERR unknown command '{}', with args beginning with: ", sanitize(name, 128));
    let mut budget = 128usize;
    for a in args {
        if budget == 0 {
            break;
        }
        let shown = sanitize(a, budget);
        budget = budget.saturating_sub(shown.len());
        text.push('\'');
        text.push_str(&shown);
        text.push_str("' ");
    }
    Reply::error(text)
}

/// Redis's unknown-subcommand error.
pub fn unknown_subcommand(cmd: &str, sub: &[u8]) -> Reply {
    Reply::error(format!("ERR unknown subcommand '{}'. Try {} HELP.", sanitize(sub, 128), cmd.to_ascii_uppercase()))
}

/// A storage or decoding failure.
pub fn internal(e: &CoordError) -> Reply {
    if let CoordError::Late = e {
        // A fenced request from another node, which no longer waits for this reply.
        return Reply::error(e.to_string());
    }
    tracing::error!(error = %e, "command failed");
    Reply::error(format!("ERR {e}"))
}

/// Printable text from client bytes: at most `max` bytes, control characters replaced by spaces
/// (an error line must never contain CR/LF).
pub fn sanitize(b: &[u8], max: usize) -> String {
    let cut = &b[..b.len().min(max)];
    String::from_utf8_lossy(cut).chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}
