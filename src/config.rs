//! Configuration: defaults, a TOML file (`conf/cartwheel.toml` documents every key), and
//! command-line overrides, validated once at start-up. Keys use Redis's names where Redis has
//! the same setting (`requirepass`, `maxclients`, `proto-max-bulk-len`…).
//!
//! Settings that `CONFIG SET` may change at run time are read through the node's
//! `ArcSwap<Config>` snapshot; the rest are fixed after start.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::storage::FsyncPolicy;

/// A configuration problem found at start-up.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// Parser message (names the key).
        message: String,
    },
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// All settings of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    /// Addresses to listen on.
    pub bind: Vec<String>,
    /// Client port (0 = any free port, for tests).
    pub port: u16,
    /// Data directory.
    pub dir: PathBuf,
    /// Password for the `default` user; none = no authentication.
    pub requirepass: Option<String>,
    /// Refuse non-loopback clients when bound beyond loopback without a password.
    pub protected_mode: bool,
    /// Maximum simultaneous client connections.
    pub maxclients: usize,
    /// Close connections idle for this many seconds (0 = never).
    pub timeout: u64,
    /// Largest accepted bulk string (and string value), bytes.
    pub proto_max_bulk_len: usize,
    /// Largest unparsed input buffered for one client, bytes.
    pub client_query_buffer_limit: usize,
    /// `no`, `everysec` or `always`.
    pub fsync: FsyncPolicy,
    /// `debug`, `verbose`, `notice` or `warning`.
    pub loglevel: String,
    /// Siblings kept per key before the oldest collapse (last writer wins).
    pub max_siblings: usize,
    /// fjall block cache, MiB.
    pub cache_size_mb: u64,
    /// Row cache (newest stored version of recently used keys), MiB; 0 = off.
    pub row_cache_mb: u64,
    /// Background task frequency (expiry sweep ticks per second).
    pub hz: u32,
    /// Stored keys the expiry sweep examines per tick.
    pub expire_keys_per_tick: usize,
    /// Async worker threads (0 = one per available core).
    pub worker_threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".into()],
            port: 6379,
            dir: PathBuf::from("./data"),
            requirepass: None,
            protected_mode: true,
            maxclients: 10_000,
            timeout: 0,
            proto_max_bulk_len: 512 << 20,
            client_query_buffer_limit: 1 << 30,
            fsync: FsyncPolicy::Everysec,
            loglevel: "notice".into(),
            max_siblings: 64,
            cache_size_mb: 64,
            row_cache_mb: 64,
            hz: 10,
            expire_keys_per_tick: 1000,
            worker_threads: 0,
        }
    }
}

/// Command-line overrides (each wins over the file).
#[derive(Debug, Clone, Default, Args)]
pub struct Overrides {
    /// TOML configuration file.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Address to listen on (repeatable).
    #[arg(long)]
    pub bind: Vec<String>,
    /// Client port.
    #[arg(long, short = 'p')]
    pub port: Option<u16>,
    /// Data directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Require this password (AUTH / HELLO AUTH default <pass>).
    #[arg(long)]
    pub requirepass: Option<String>,
    /// fsync policy.
    #[arg(long, value_enum)]
    pub fsync: Option<FsyncPolicy>,
    /// Log level: debug, verbose, notice, warning.
    #[arg(long)]
    pub loglevel: Option<String>,
    /// Maximum client connections.
    #[arg(long)]
    pub maxclients: Option<usize>,
    /// Idle client timeout, seconds (0 = never).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Protected mode: yes or no.
    #[arg(long, value_parser = parse_yes_no)]
    pub protected_mode: Option<bool>,
    /// Async worker threads (0 = one per core).
    #[arg(long)]
    pub worker_threads: Option<usize>,
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("expected yes or no".into()),
    }
}

impl Config {
    /// Defaults, then the file named by `o.config` (if any), then the overrides; validated.
    pub fn load(o: &Overrides) -> Result<Config, ConfigError> {
        let mut cfg = match &o.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if !o.bind.is_empty() {
            cfg.bind.clone_from(&o.bind);
        }
        macro_rules! apply {
            ($($field:ident),*) => { $( if let Some(v) = &o.$field { cfg.$field = v.clone(); } )* };
        }
        apply!(port, dir, fsync, loglevel, maxclients, timeout, protected_mode, worker_threads);
        if o.requirepass.is_some() {
            cfg.requirepass.clone_from(&o.requirepass);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses a TOML file (unknown keys are errors).
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.display().to_string(), message: e.to_string() })
    }

    /// Checks ranges and combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.into()));
        if self.bind.is_empty() {
            return bad("bind needs at least one address");
        }
        if self.maxclients == 0 {
            return bad("maxclients must be at least 1");
        }
        if self.proto_max_bulk_len < 1024 {
            return bad("proto-max-bulk-len must be at least 1024");
        }
        if self.client_query_buffer_limit < 1024 * 1024 {
            return bad("client-query-buffer-limit must be at least 1mb");
        }
        if self.max_siblings == 0 {
            return bad("max-siblings must be at least 1");
        }
        if !(1..=500).contains(&self.hz) {
            return bad("hz must be between 1 and 500");
        }
        if self.cache_size_mb > 1 << 20 || self.row_cache_mb > 1 << 20 {
            return bad("cache-size-mb and row-cache-mb must be at most 1048576 (1 TiB)");
        }
        if self.expire_keys_per_tick == 0 {
            return bad("expire-keys-per-tick must be at least 1");
        }
        if !matches!(self.loglevel.as_str(), "debug" | "verbose" | "notice" | "warning") {
            return bad("loglevel must be debug, verbose, notice or warning");
        }
        if matches!(self.requirepass.as_deref(), Some("")) {
            return bad("requirepass must not be empty (leave it out for no password)");
        }
        Ok(())
    }

    /// A configuration for tests: loopback, any free port, data in `dir`.
    pub fn for_test(dir: &Path) -> Config {
        Config { port: 0, dir: dir.to_path_buf(), fsync: FsyncPolicy::No, cache_size_mb: 8, ..Config::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_file_parses_to_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/cartwheel.toml");
        assert_eq!(Config::from_file(&path).unwrap(), Config::default());
    }

    #[test]
    fn overrides_win_and_validation_rejects_nonsense() {
        let o = Overrides { port: Some(7000), fsync: Some(FsyncPolicy::Always), ..Overrides::default() };
        let c = Config::load(&o).unwrap();
        assert_eq!((c.port, c.fsync), (7000, FsyncPolicy::Always));
        let bad = Config { hz: 0, ..Config::default() };
        assert!(bad.validate().is_err());
        assert!(toml::from_str::<Config>("no-such-key = 1").is_err());
    }
}
