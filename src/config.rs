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
    /// A graceful stop still running after this many ms ends with exit status 2.
    pub shutdown_timeout_ms: u64,
    /// Siblings kept per key before the oldest collapse (last writer wins).
    pub max_siblings: usize,
    /// fjall block cache, MiB.
    pub cache_size_mb: u64,
    /// Row cache (newest stored version of recently used keys), MiB; 0 = off.
    pub row_cache_mb: u64,
    /// Bloom filter of stored keys, MiB, so lookups of never-written keys skip the store; 0 = off.
    pub key_filter_mb: u64,
    /// Background task frequency (expiry sweep ticks per second).
    pub hz: u32,
    /// Stored keys the expiry sweep examines per tick.
    pub expire_keys_per_tick: usize,
    /// Async worker threads (0 = one per available core).
    pub worker_threads: usize,
    /// Join a cluster (a node without it is a standalone cluster of one).
    pub cluster_enabled: bool,
    /// Port of the node-to-node protocol (0 = client port + 10000).
    pub cluster_port: u16,
    /// Address other nodes use to reach this one (default: the first `bind` address).
    pub cluster_announce_ip: Option<String>,
    /// Shared secret every member proves it knows (required with `cluster-enabled`).
    pub cluster_secret: Option<String>,
    /// Name of the cluster; nodes of another cluster are refused.
    pub cluster_name: String,
    /// Cluster addresses (`host:cluster-port`) of nodes to join through.
    pub seeds: Vec<String>,
    /// Rack / data centre; replicas of a key prefer distinct zones.
    pub zone: String,
    /// Relative capacity: a weight-2 node owns twice the slots.
    pub weight: u32,
    /// Ring tokens per unit of weight.
    pub vnodes: u32,
    /// Replicas per key (N).
    pub replicas: usize,
    /// Replicas that must answer a read (R).
    pub read_quorum: usize,
    /// Replicas that must acknowledge a write (W).
    pub write_quorum: usize,
    /// Deadline of one request to another node, ms.
    pub rpc_timeout_ms: u64,
    /// A quorum read also asks the next replica when one has not answered after this many ms.
    pub read_speculative_ms: u64,
    /// Gossip period, ms.
    pub gossip_interval_ms: u64,
    /// A member whose heartbeat has not advanced for this long is suspected, ms.
    pub suspect_after_ms: u64,
    /// Most keys hinted for one other node (hinted handoff); beyond it new hints are dropped.
    pub hint_max_keys: u64,
    /// Most MiB of hints for one other node.
    pub hint_max_mb: u64,
    /// Hints older than this are discarded instead of delivered, ms.
    pub hint_max_age_ms: u64,
    /// Hints delivered per second at most, per node (protects foreground latency).
    pub hint_replay_rate: u32,
    /// After all N replicas acknowledged a tombstone, wait this long and reap it everywhere, ms.
    pub tombstone_reap_delay_ms: u64,
    /// With N > 1, a deleted key's tombstones are reaped this long after the deletion at the
    /// latest, ms (sooner once every replica is known to hold them).
    pub tombstone_grace_ms: u64,
    /// Anti-entropy: start an exchange with the next peer every this many ms (0: only when asked
    /// with `KV.AAE EXCHANGE`).
    pub aae_interval_ms: u64,
    /// Anti-entropy: keys repaired per second at most.
    pub aae_keys_per_sec: u64,
    /// Anti-entropy: bytes per second at most (sent and received by the node starting exchanges).
    pub aae_bytes_per_sec: u64,
    /// Anti-entropy: wait between the two comparisons of a difference before repairing it, ms.
    pub aae_confirm_ms: u64,
    /// Anti-entropy: keys per second read while the trees are rebuilt at start.
    pub aae_rebuild_keys_per_sec: u64,
    /// Offloading: look for data of slots this node does not replicate (and hand it to their
    /// replicas) every this many ms (0: never).
    pub offload_interval_ms: u64,
    /// Offloading: keys handed over per second at most.
    pub offload_keys_per_sec: u64,
    /// **Deliberately unsafe, for the fault-injection checker's self-test only.** When above 0,
    /// a client's plain `SET key value` and `KV.PUT` are answered `+OK` at once and performed
    /// this many ms later from an in-memory queue — acknowledged before W replicas (before any),
    /// like asynchronous replication. A crash loses the queue. Never set it on a real node.
    pub debug_unsafe_early_ack_ms: u64,
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
            shutdown_timeout_ms: 10_000,
            max_siblings: 64,
            cache_size_mb: 64,
            row_cache_mb: 64,
            key_filter_mb: 16,
            hz: 10,
            expire_keys_per_tick: 1000,
            worker_threads: 0,
            cluster_enabled: false,
            cluster_port: 0,
            cluster_announce_ip: None,
            cluster_secret: None,
            cluster_name: "cartwheel".into(),
            seeds: Vec::new(),
            zone: String::new(),
            weight: 1,
            vnodes: crate::ring::DEFAULT_VNODES,
            replicas: 3,
            read_quorum: 2,
            write_quorum: 2,
            rpc_timeout_ms: 1000,
            read_speculative_ms: 20,
            gossip_interval_ms: 1000,
            suspect_after_ms: 5000,
            hint_max_keys: 1_000_000,
            hint_max_mb: 1024,
            hint_max_age_ms: 3 * 3600 * 1000,
            hint_replay_rate: 5000,
            tombstone_reap_delay_ms: 3000,
            tombstone_grace_ms: 86_400_000,
            aae_interval_ms: 5_000,
            aae_keys_per_sec: 20_000,
            aae_bytes_per_sec: 16 << 20,
            aae_confirm_ms: 1000,
            aae_rebuild_keys_per_sec: 200_000,
            offload_interval_ms: 10_000,
            offload_keys_per_sec: 10_000,
            debug_unsafe_early_ack_ms: 0,
        }
    }
}

/// Command-line overrides (each wins over the file).
#[derive(Debug, Clone, Default, Args)]
pub struct Overrides {
    /// TOML configuration file.
    #[arg(long, short = 'c', env = "CARTWHEEL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (repeatable).
    #[arg(long, env = "CARTWHEEL_BIND", value_delimiter = ',')]
    pub bind: Vec<String>,
    /// Client port.
    #[arg(long, short = 'p', env = "CARTWHEEL_PORT")]
    pub port: Option<u16>,
    /// Data directory.
    #[arg(long, env = "CARTWHEEL_DIR")]
    pub dir: Option<PathBuf>,
    /// Require this password (AUTH / HELLO AUTH default <pass>).
    #[arg(long, env = "CARTWHEEL_REQUIREPASS", hide_env_values = true)]
    pub requirepass: Option<String>,
    /// fsync policy.
    #[arg(long, value_enum, env = "CARTWHEEL_FSYNC")]
    pub fsync: Option<FsyncPolicy>,
    /// Log level: debug, verbose, notice, warning.
    #[arg(long, env = "CARTWHEEL_LOGLEVEL")]
    pub loglevel: Option<String>,
    /// Exit with status 2 when a graceful stop takes longer than this, ms.
    #[arg(long, env = "CARTWHEEL_SHUTDOWN_TIMEOUT_MS")]
    pub shutdown_timeout_ms: Option<u64>,
    /// Maximum client connections.
    #[arg(long, env = "CARTWHEEL_MAXCLIENTS")]
    pub maxclients: Option<usize>,
    /// Idle client timeout, seconds (0 = never).
    #[arg(long, env = "CARTWHEEL_TIMEOUT")]
    pub timeout: Option<u64>,
    /// Protected mode: yes or no.
    #[arg(long, value_parser = parse_yes_no, env = "CARTWHEEL_PROTECTED_MODE")]
    pub protected_mode: Option<bool>,
    /// Async worker threads (0 = one per core).
    #[arg(long, env = "CARTWHEEL_WORKER_THREADS")]
    pub worker_threads: Option<usize>,
    /// Join a cluster (implied by --seed and --cluster-secret).
    #[arg(long, env = "CARTWHEEL_CLUSTER")]
    pub cluster: bool,
    /// Cluster address (host:cluster-port) of a node to join through (repeatable).
    #[arg(long = "seed", env = "CARTWHEEL_SEED", value_delimiter = ',')]
    pub seeds: Vec<String>,
    /// Node-to-node port (default: client port + 10000).
    #[arg(long, env = "CARTWHEEL_CLUSTER_PORT")]
    pub cluster_port: Option<u16>,
    /// Address other nodes use to reach this one.
    #[arg(long, env = "CARTWHEEL_CLUSTER_ANNOUNCE_IP")]
    pub cluster_announce_ip: Option<String>,
    /// Shared cluster secret.
    #[arg(long, env = "CARTWHEEL_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// Cluster name.
    #[arg(long, env = "CARTWHEEL_CLUSTER_NAME")]
    pub cluster_name: Option<String>,
    /// Zone (rack / data centre).
    #[arg(long, env = "CARTWHEEL_ZONE")]
    pub zone: Option<String>,
    /// Relative capacity.
    #[arg(long, env = "CARTWHEEL_WEIGHT")]
    pub weight: Option<u32>,
    /// Ring tokens per unit of weight.
    #[arg(long, env = "CARTWHEEL_VNODES")]
    pub vnodes: Option<u32>,
    /// Replicas per key (N).
    #[arg(long, env = "CARTWHEEL_REPLICAS")]
    pub replicas: Option<usize>,
    /// Read quorum (R).
    #[arg(long, env = "CARTWHEEL_READ_QUORUM")]
    pub read_quorum: Option<usize>,
    /// Write quorum (W).
    #[arg(long, env = "CARTWHEEL_WRITE_QUORUM")]
    pub write_quorum: Option<usize>,
    /// Reap a deleted key's tombstones this many ms after the deletion (cluster mode).
    #[arg(long, env = "CARTWHEEL_TOMBSTONE_GRACE_MS")]
    pub tombstone_grace_ms: Option<u64>,
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
        apply!(cluster_port, cluster_name, zone, weight, vnodes, replicas, read_quorum, write_quorum);
        apply!(tombstone_grace_ms, shutdown_timeout_ms);
        if o.requirepass.is_some() {
            cfg.requirepass.clone_from(&o.requirepass);
        }
        if o.cluster_secret.is_some() {
            cfg.cluster_secret.clone_from(&o.cluster_secret);
        }
        if o.cluster_announce_ip.is_some() {
            cfg.cluster_announce_ip.clone_from(&o.cluster_announce_ip);
        }
        if !o.seeds.is_empty() {
            cfg.seeds.clone_from(&o.seeds);
        }
        cfg.cluster_enabled |= o.cluster || !o.seeds.is_empty() || o.cluster_secret.is_some();
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
        if self.cache_size_mb > 1 << 20 || self.row_cache_mb > 1 << 20 || self.key_filter_mb > 1 << 20 {
            return bad("cache-size-mb, row-cache-mb and key-filter-mb must be at most 1048576 (1 TiB)");
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
        if self.cluster_enabled && self.cluster_secret.as_deref().is_none_or(str::is_empty) {
            return bad("cluster-enabled needs a cluster-secret (--cluster-secret)");
        }
        if !(1..=16).contains(&self.replicas) {
            return bad("replicas must be between 1 and 16");
        }
        if self.read_quorum == 0 || self.write_quorum == 0 {
            return bad("read-quorum and write-quorum must be at least 1");
        }
        if self.read_quorum > self.replicas || self.write_quorum > self.replicas {
            return bad("read-quorum and write-quorum must not exceed replicas");
        }
        if !(1..=64).contains(&self.weight) || !(1..=4096).contains(&self.vnodes) {
            return bad("weight must be 1..=64 and vnodes 1..=4096");
        }
        if self.rpc_timeout_ms == 0 || self.gossip_interval_ms == 0 || self.suspect_after_ms == 0 {
            return bad("rpc-timeout-ms, gossip-interval-ms and suspect-after-ms must be at least 1");
        }
        if self.shutdown_timeout_ms == 0 {
            return bad("shutdown-timeout-ms must be at least 1");
        }
        if self.hint_replay_rate == 0 {
            return bad("hint-replay-rate must be at least 1");
        }
        if self.aae_keys_per_sec == 0 || self.aae_bytes_per_sec == 0 || self.aae_rebuild_keys_per_sec == 0 {
            return bad("aae-keys-per-sec, aae-bytes-per-sec and aae-rebuild-keys-per-sec must be at least 1");
        }
        if self.offload_keys_per_sec == 0 {
            return bad("offload-keys-per-sec must be at least 1");
        }
        if self.zone.len() > 64 || self.cluster_name.is_empty() || self.cluster_name.len() > 64 {
            return bad("zone must be at most 64 bytes and cluster-name 1 to 64 bytes");
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
    fn the_three_node_example_parses_and_validates() {
        for i in 1..=3 {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("conf/cluster-3nodes/node{i}.toml"));
            let c = Config::from_file(&path).unwrap();
            c.validate().unwrap();
            assert!(c.cluster_enabled && c.port == 7000 + i && c.seeds.len() == usize::from(i > 1));
        }
    }

    #[test]
    fn the_container_configs_parse_and_validate() {
        for name in ["cartwheel", "cluster"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("conf/docker/{name}.toml"));
            let c = Config::from_file(&path).unwrap();
            assert_eq!(
                (c.bind.as_slice(), c.dir.as_path(), c.protected_mode),
                (&["0.0.0.0".to_string()][..], Path::new("/data"), false)
            );
            // The compose file's secret comes from the environment, as a flag would.
            Config { cluster_secret: Some("s".into()), ..c }.validate().unwrap();
        }
    }

    #[test]
    fn environment_variables_configure_and_flags_win() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            o: Overrides,
        }
        use clap::Parser;
        // The only test that sets CARTWHEEL_* variables; they are removed before asserting.
        let vars = [
            ("CARTWHEEL_PORT", "7100"),
            ("CARTWHEEL_BIND", "0.0.0.0,::"),
            ("CARTWHEEL_SEED", "10.0.0.1:16379,node2:16379"),
            ("CARTWHEEL_CLUSTER_SECRET", "env-secret"),
            ("CARTWHEEL_PROTECTED_MODE", "no"),
            ("CARTWHEEL_FSYNC", "always"),
            ("CARTWHEEL_CLUSTER", "false"),
        ];
        for (k, v) in vars {
            std::env::set_var(k, v);
        }
        let from_env = Cli::try_parse_from(["cartwheel"]).map(|c| c.o);
        let with_flags = Cli::try_parse_from(["cartwheel", "--port", "7200", "--seed", "10.0.0.9:16379"]).map(|c| c.o);
        for (k, _) in vars {
            std::env::remove_var(k);
        }
        let o = from_env.unwrap();
        assert!(!o.cluster, "CARTWHEEL_CLUSTER=false is false");
        let c = Config::load(&o).unwrap();
        assert_eq!(
            (c.port, c.bind.clone(), c.protected_mode, c.fsync),
            (7100, vec!["0.0.0.0".into(), "::".into()], false, FsyncPolicy::Always)
        );
        assert_eq!(c.seeds, ["10.0.0.1:16379", "node2:16379"]);
        assert!(c.cluster_enabled && c.cluster_secret.as_deref() == Some("env-secret"), "seeds imply cluster mode");
        let c = Config::load(&with_flags.unwrap()).unwrap();
        assert_eq!((c.port, c.seeds), (7200, vec!["10.0.0.9:16379".to_string()]));
        assert_eq!(c.fsync, FsyncPolicy::Always, "the environment still fills what the flags leave out");
    }

    #[test]
    fn cluster_settings_are_checked() {
        assert!(Config { cluster_enabled: true, ..Config::default() }.validate().is_err(), "a secret is required");
        let ok = Config { cluster_enabled: true, cluster_secret: Some("s".into()), ..Config::default() };
        ok.validate().unwrap();
        assert!(Config { write_quorum: 4, ..ok.clone() }.validate().is_err());
        assert!(Config { replicas: 0, ..ok.clone() }.validate().is_err());
        let o = Overrides {
            seeds: vec!["127.0.0.1:17001".into()],
            cluster_secret: Some("s".into()),
            ..Overrides::default()
        };
        assert!(Config::load(&o).unwrap().cluster_enabled, "--seed implies cluster mode");
        let o = Overrides { cluster_secret: Some("s".into()), ..Overrides::default() };
        assert!(Config::load(&o).unwrap().cluster_enabled, "--cluster-secret implies cluster mode");
        assert!(!Config::load(&Overrides::default()).unwrap().cluster_enabled, "no flag, no cluster");
    }

    #[test]
    fn tombstone_grace_is_a_file_key_and_a_flag() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            o: Overrides,
        }
        let cli = <Cli as clap::Parser>::try_parse_from(["cartwheel", "--tombstone-grace-ms", "5000"]).unwrap();
        assert_eq!(Config::load(&cli.o).unwrap().tombstone_grace_ms, 5000);
        let c: Config = toml::from_str("tombstone-grace-ms = 0").unwrap();
        assert_eq!(c.tombstone_grace_ms, 0);
    }

    #[test]
    fn shutdown_timeout_is_a_file_key_and_a_flag() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            o: Overrides,
        }
        assert_eq!(Config::default().shutdown_timeout_ms, 10_000);
        let cli = <Cli as clap::Parser>::try_parse_from(["cartwheel", "--shutdown-timeout-ms", "1500"]).unwrap();
        assert_eq!(Config::load(&cli.o).unwrap().shutdown_timeout_ms, 1500);
        let c: Config = toml::from_str("shutdown-timeout-ms = 250").unwrap();
        assert_eq!(c.shutdown_timeout_ms, 250);
        assert!(Config { shutdown_timeout_ms: 0, ..Config::default() }.validate().is_err());
    }

    #[test]
    fn overrides_win_and_validation_rejects_nonsense() {
        let o = Overrides {
            port: Some(7000),
            fsync: Some(FsyncPolicy::Always),
            tombstone_grace_ms: Some(0),
            ..Overrides::default()
        };
        let c = Config::load(&o).unwrap();
        assert_eq!((c.port, c.fsync, c.tombstone_grace_ms), (7000, FsyncPolicy::Always, 0));
        let bad = Config { hz: 0, ..Config::default() };
        assert!(bad.validate().is_err());
        assert!(toml::from_str::<Config>("no-such-key = 1").is_err());
    }
}
