//! `CONFIG GET|SET|RESETSTAT`: the parameters clients and tools ask for, with Redis's names.
//!
//! Parameters Cartwheel does not have but tools commonly read (`save`, `appendonly`,
//! `databases`, `maxmemory`…) report the value that describes Cartwheel's behaviour; setting
//! them is refused unless the value is that behaviour.

use bytes::Bytes;

use super::args::parse_i64;
use super::errors;
use super::glob::glob_match;
use super::Context;
use crate::config::Config;
use crate::resp::reply::Reply;
use crate::storage::FsyncPolicy;

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// Every parameter `CONFIG GET` knows, with its current value.
fn params(cfg: &Config, node: &Context) -> Vec<(&'static str, String)> {
    vec![
        ("bind", cfg.bind.join(" ")),
        ("port", node.addrs.first().map_or(cfg.port, |a| a.port()).to_string()),
        ("dir", cfg.dir.display().to_string()),
        ("requirepass", cfg.requirepass.clone().unwrap_or_default()),
        ("protected-mode", yes_no(cfg.protected_mode)),
        ("maxclients", cfg.maxclients.to_string()),
        ("timeout", cfg.timeout.to_string()),
        ("proto-max-bulk-len", cfg.proto_max_bulk_len.to_string()),
        ("client-query-buffer-limit", cfg.client_query_buffer_limit.to_string()),
        ("appendfsync", node.coord.durability().policy().as_str().to_string()),
        ("appendonly", "yes".into()),
        ("save", String::new()),
        ("databases", "1".into()),
        ("maxmemory", "0".into()),
        ("maxmemory-policy", "noeviction".into()),
        ("cluster-enabled", "no".into()),
        ("loglevel", cfg.loglevel.clone()),
        ("hz", cfg.hz.to_string()),
        ("max-siblings", cfg.max_siblings.to_string()),
        ("tombstone-grace-ms", cfg.tombstone_grace_ms.to_string()),
        ("aae-interval-ms", cfg.aae_interval_ms.to_string()),
        ("aae-keys-per-sec", cfg.aae_keys_per_sec.to_string()),
        ("aae-bytes-per-sec", cfg.aae_bytes_per_sec.to_string()),
        ("aae-confirm-ms", cfg.aae_confirm_ms.to_string()),
        ("aae-rebuild-keys-per-sec", cfg.aae_rebuild_keys_per_sec.to_string()),
        ("offload-interval-ms", cfg.offload_interval_ms.to_string()),
        ("offload-keys-per-sec", cfg.offload_keys_per_sec.to_string()),
        ("io-threads", "1".into()),
    ]
}

pub(super) fn config(node: &Context, a: &[Bytes]) -> Reply {
    let sub = &a[1];
    if sub.eq_ignore_ascii_case(b"get") && a.len() >= 3 {
        let cfg = node.config();
        let all = params(&cfg, node);
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for pattern in &a[2..] {
            let pattern = pattern.to_ascii_lowercase();
            for (name, value) in &all {
                if !seen.contains(name) && glob_match(&pattern, name.as_bytes(), true) {
                    seen.push(*name);
                    out.push((Reply::bulk(name), Reply::bulk(value)));
                }
            }
        }
        Reply::Map(out)
    } else if sub.eq_ignore_ascii_case(b"set") && a.len() >= 4 && a.len() % 2 == 0 {
        let mut cfg = Config::clone(&node.config());
        let mut fsync = None;
        for pair in a[2..].chunks(2) {
            if let Err(r) = set_one(&mut cfg, &mut fsync, &pair[0], &pair[1]) {
                return r;
            }
        }
        if let Err(e) = cfg.validate() {
            return Reply::error(format!("ERR CONFIG SET failed - {e}"));
        }
        if let Some(p) = fsync {
            node.coord.durability().set_policy(p);
        }
        node.set_config(cfg);
        Reply::ok()
    } else if sub.eq_ignore_ascii_case(b"resetstat") && a.len() == 2 {
        node.stats.reset();
        Reply::ok()
    } else {
        errors::unknown_subcommand("config", sub)
    }
}

fn set_one(cfg: &mut Config, fsync: &mut Option<FsyncPolicy>, name: &[u8], value: &[u8]) -> Result<(), Reply> {
    let name_s = String::from_utf8_lossy(name).to_ascii_lowercase();
    let fail =
        |why: &str| Reply::error(format!("ERR CONFIG SET failed (possibly related to argument '{name_s}') - {why}"));
    let int =
        || parse_i64(value).filter(|v| *v >= 0).ok_or_else(|| fail("argument couldn't be parsed into an integer"));
    match name_s.as_str() {
        "maxclients" => cfg.maxclients = int()? as usize,
        "timeout" => cfg.timeout = int()? as u64,
        "proto-max-bulk-len" => cfg.proto_max_bulk_len = int()? as usize,
        "client-query-buffer-limit" => cfg.client_query_buffer_limit = int()? as usize,
        "requirepass" => {
            cfg.requirepass = if value.is_empty() { None } else { Some(String::from_utf8_lossy(value).into_owned()) }
        }
        "appendfsync" => {
            *fsync = Some(
                FsyncPolicy::parse(value)
                    .ok_or_else(|| fail("argument(s) must be one of the following: always, everysec, no"))?,
            )
        }
        "save" if value.is_empty() => {}
        "appendonly" if value.eq_ignore_ascii_case(b"yes") => {}
        _ => {
            return Err(Reply::error(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                errors::sanitize(name, 128)
            )))
        }
    }
    Ok(())
}
