//! `INFO [section …]`: Redis's sections and field names (so monitoring tools and client
//! libraries find what they look for), plus a `cartwheel` section with the store's own view:
//! node id, replication settings, siblings, tombstones, expiry sweep and disk use; and a
//! `workers` section listing the node's background workers (`worker_<name>:state=running,
//! rounds=N,last_round_ms_ago=M`, `-1` before the first round).
//!
//! An `anti_entropy` section reports the Merkle-tree exchanges (see `aae_cmd.rs`).
//!
//! Sections: `default` (server clients memory persistence stats replication cpu cluster
//! keyspace cartwheel anti_entropy workers), `all` (adds commandstats errorstats), `everything` (same as all
//! here).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::connection::REDIS_VERSION;
use super::Context;
use crate::resp::reply::Reply;

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "cluster",
    "keyspace",
    "cartwheel",
    "anti_entropy",
    "workers",
];
const EXTRA: &[&str] = &["commandstats", "errorstats"];

pub(super) fn info(node: &Context, a: &[Bytes]) -> Reply {
    let mut wanted: Vec<&str> = Vec::new();
    let mut add = |name: &'static str| {
        if !wanted.contains(&name) {
            wanted.push(name);
        }
    };
    if a.len() == 1 {
        DEFAULT.iter().for_each(|s| add(s));
    }
    for arg in &a[1..] {
        let arg = arg.to_ascii_lowercase();
        match arg.as_slice() {
            b"default" => DEFAULT.iter().for_each(|s| add(s)),
            b"all" | b"everything" => DEFAULT.iter().chain(EXTRA).for_each(|s| add(s)),
            other => {
                if let Some(s) = DEFAULT.iter().chain(EXTRA).find(|s| s.as_bytes() == other) {
                    add(s);
                }
            }
        }
    }
    let mut out = String::with_capacity(4096);
    for section in DEFAULT.iter().chain(EXTRA).filter(|s| wanted.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        render(node, section, &mut out);
    }
    Reply::Verbatim(Bytes::from(out))
}

fn render(node: &Context, section: &str, o: &mut String) {
    let cfg = node.config();
    let coord = &node.coord;
    let st = &node.stats;
    let title = {
        let mut t = section.to_string();
        if let Some(f) = t.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        t
    };
    let _ = write!(o, "# {title}\r\n");
    let mut kv = |k: &str, v: &dyn std::fmt::Display| {
        let _ = write!(o, "{k}:{v}\r\n");
    };
    match section {
        "server" => {
            let up = node.started.elapsed().as_secs();
            kv("redis_version", &REDIS_VERSION);
            kv("redis_git_sha1", &"00000000");
            kv("redis_git_dirty", &0);
            kv("redis_mode", &"standalone");
            kv("os", &format!("{} {}", std::env::consts::OS, std::env::consts::ARCH));
            kv("arch_bits", &64);
            kv("multiplexing_api", &"epoll");
            kv("process_id", &std::process::id());
            kv("run_id", &node.run_id);
            kv("tcp_port", &node.addrs.first().map_or(0, |a| a.port()));
            kv("server_time_usec", &coord.clock().now_us());
            kv("uptime_in_seconds", &up);
            kv("uptime_in_days", &(up / 86400));
            kv("hz", &cfg.hz);
            kv("configured_hz", &cfg.hz);
            kv("executable", &std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default());
            kv("cartwheel_version", &env!("CARGO_PKG_VERSION"));
        }
        "clients" => {
            kv("connected_clients", &node.clients.len());
            kv("cluster_connections", &0);
            kv("maxclients", &cfg.maxclients);
            kv("blocked_clients", &0);
            kv("tracking_clients", &0);
        }
        "memory" => {
            let rss = rss_bytes();
            kv("used_memory", &rss);
            kv("used_memory_human", &human(rss));
            kv("used_memory_rss", &rss);
            kv("used_memory_peak", &rss);
            kv("maxmemory", &0);
            kv("maxmemory_human", &"0B");
            kv("maxmemory_policy", &"noeviction");
            kv("mem_allocator", &"libc");
        }
        "persistence" => {
            kv("loading", &0);
            kv("async_loading", &0);
            kv("rdb_changes_since_last_save", &0);
            kv("rdb_bgsave_in_progress", &0);
            kv("rdb_last_save_time", &(node.started_unix_ms / 1000));
            kv("rdb_last_bgsave_status", &"ok");
            kv("aof_enabled", &1);
            kv("aof_rewrite_in_progress", &0);
            kv("aof_last_write_status", &"ok");
            kv("fsync_policy", &coord.durability().policy().as_str());
            kv("fsyncs_total", &coord.durability().fsyncs());
            kv("storage_engine", &"fjall");
            kv("storage_disk_bytes", &coord.disk_space());
        }
        "stats" => {
            let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
            kv("total_connections_received", &load(&st.connections_received));
            kv("total_commands_processed", &load(&st.commands));
            kv("instantaneous_ops_per_sec", &st.metrics.ops_per_sec());
            kv("total_net_input_bytes", &load(&st.net_input_bytes));
            kv("total_net_output_bytes", &load(&st.net_output_bytes));
            let (kin, kout) = st.metrics.kbps();
            kv("instantaneous_input_kbps", &format!("{kin:.2}"));
            kv("instantaneous_output_kbps", &format!("{kout:.2}"));
            kv("rejected_connections", &load(&st.rejected_connections));
            kv("expired_keys", &coord.stats().expired_keys.load(Ordering::Relaxed));
            kv("evicted_keys", &0);
            kv("keyspace_hits", &st.metrics.keyspace_hits());
            kv("keyspace_misses", &st.metrics.keyspace_misses());
            kv("total_error_replies", &load(&st.error_replies));
            kv("acl_access_denied_auth", &load(&st.auth_failures));
        }
        "replication" => {
            kv("role", &"master");
            kv("connected_slaves", &0);
            kv("master_failover_state", &"no-failover");
            kv("master_replid", &node.run_id);
            kv("master_replid2", &"0000000000000000000000000000000000000000");
            kv("master_repl_offset", &0);
            kv("second_repl_offset", &-1);
            kv("repl_backlog_active", &0);
        }
        "cpu" => {
            let (user, sys) = cpu_seconds();
            kv("used_cpu_sys", &format!("{sys:.6}"));
            kv("used_cpu_user", &format!("{user:.6}"));
            kv("used_cpu_sys_children", &"0.000000");
            kv("used_cpu_user_children", &"0.000000");
        }
        "cluster" => match node.cluster.as_ref() {
            None => kv("cluster_enabled", &0),
            Some(c) => {
                let topo = c.topology();
                kv("cluster_enabled", &1);
                let joined = super::cluster_state::Joined::of(c);
                let state = super::cluster_state::of(&topo, c.settings().write_quorum, joined);
                kv("cluster_state", &state.state());
                kv("cluster_state_reason", &state.reason.as_str());
                kv("cluster_coordinating", &u8::from(c.ready()));
                let report = c.membership().join_report();
                kv("cluster_view", &report.view.as_str());
                if !c.ready() {
                    kv("cluster_not_coordinating_because", &crate::cluster::join::not_ready_reason(c, &cfg.seeds));
                }
                kv("cluster_slots_ok", &state.slots_ok);
                kv("cluster_slots_fail", &state.slots_fail());
                kv("cluster_members_refused", &c.membership().stats().members_refused);
                kv("cluster_members", &topo.peers().len());
                kv("cluster_members_up", &topo.peers().iter().filter(|p| p.healthy).count());
                kv("cluster_members_down", &topo.peers().iter().filter(|p| p.failed).count());
                for (i, p) in topo.peers().iter().enumerate() {
                    let share = topo.ring().share(&p.member.id);
                    let status = if p.failed {
                        "down"
                    } else if p.healthy {
                        "up"
                    } else {
                        "suspect"
                    };
                    kv(
                        &format!("member{i}"),
                        &format!(
                            "id={},addr={},cluster_addr={},zone={},weight={},status={status},generation={},primary_slots={},replica_slots={}",
                            p.member.id, p.member.client_addr, p.member.cluster_addr, p.member.zone, p.member.weight, p.member.generation,
                            share.primary_slots, share.replica_slots
                        ),
                    );
                }
            }
        },
        "anti_entropy" => {
            for (k, v) in super::aae_cmd::info_fields(node) {
                kv(&k, &v);
            }
        }
        "workers" => {
            for w in node.workers.list() {
                let state = if w.running { "running" } else { "stopped" };
                let ago = w.last_round_ms_ago.map_or(-1, |ms| ms as i64);
                kv(
                    &format!("worker_{}", w.name),
                    &format!("state={state},rounds={},last_round_ms_ago={ago}", w.rounds),
                );
            }
        }
        "keyspace" => {
            let keys = coord.dbsize();
            if keys > 0 {
                kv("db0", &format!("keys={keys},expires={},avg_ttl=0", coord.volatile_keys()));
            }
        }
        "cartwheel" => {
            let cs = coord.stats();
            kv("node_id", &coord.node_id());
            match node.cluster.as_ref() {
                None => {
                    kv("replicas", &1);
                    kv("read_quorum", &1);
                    kv("write_quorum", &1);
                    kv("cluster_members", &1);
                }
                Some(c) => {
                    let topo = c.topology();
                    let n = topo.replicas();
                    let st = &c.stats;
                    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
                    kv("replicas", &n);
                    kv("read_quorum", &c.settings().read_quorum.min(n));
                    kv("write_quorum", &c.settings().write_quorum.min(n));
                    kv("cluster_members", &topo.peers().len());
                    kv("forwarded_requests", &load(&st.forwarded));
                    kv("forwarded_requests_in", &load(&st.forwarded_in));
                    kv("late_requests_dropped", &load(&st.late_dropped));
                    kv("cluster_time_votes", &(c.clock().peer_votes() + 1));
                    kv("own_clock_error_ms", &-c.clock().own_error_ms());
                    kv("late_writes_refused", &coord.stats().late_writes_refused.load(Ordering::Relaxed));
                    kv("replicated_versions", &load(&st.replicated));
                    kv("merged_versions_in", &load(&st.merged_in));
                    kv("read_repairs", &load(&st.read_repairs));
                    kv("speculative_reads", &load(&st.speculative_reads));
                    kv("quorum_failures", &load(&st.quorum_failures));
                    kv("rpc_failures", &load(&st.rpc_failures));
                    kv("sloppy_writes", &load(&st.sloppy_writes));
                    kv("hinted_by_coordinator", &load(&st.hinted_here));
                    kv("hints_replayed", &load(&st.hints_replayed));
                    kv("tombstone_reaps_sent", &load(&st.reaps_sent));
                    kv("tombstone_reaps_deferred", &load(&st.reaps_deferred));
                    kv("tombstone_grace_reaps_confirmed", &load(&st.grace_reaps_confirmed));
                    kv("tombstone_grace_reaps_refused", &load(&st.grace_reaps_refused));
                    kv("replica_writes_refused", &load(&st.replica_writes_refused));
                    kv("offload_slots_pending", &load(&st.offload_slots_pending));
                    kv("offload_passes", &load(&st.offload_passes));
                    kv("offload_keys_sent", &load(&st.offload_keys_sent));
                    kv("offload_keys_dropped", &load(&st.offload_keys_dropped));
                    kv("offload_keys_refused", &load(&st.offload_keys_refused));
                }
            }
            let hs = coord.hint_stats();
            let targets = coord.hint_targets();
            kv("hints_pending", &targets.iter().map(|t| t.count).sum::<u64>());
            kv("hints_pending_bytes", &targets.iter().map(|t| t.bytes).sum::<u64>());
            kv("hints_written", &hs.written.load(Ordering::Relaxed));
            kv("hints_delivered", &hs.delivered.load(Ordering::Relaxed));
            kv("hints_dropped", &hs.dropped.load(Ordering::Relaxed));
            kv("hints_expired", &hs.expired.load(Ordering::Relaxed));
            kv("hints_moved", &hs.moved.load(Ordering::Relaxed));
            kv("hints_disk_bytes", &coord.hints_disk_space());
            let now = coord.now_ms();
            let topo = node.cluster.as_ref().map(|c| c.topology());
            for (i, t) in targets.iter().enumerate() {
                let addr = topo
                    .as_ref()
                    .and_then(|topo| topo.peer(&t.target).map(|p| p.member.cluster_addr.to_string()))
                    .unwrap_or_else(|| "?".into());
                kv(
                    &format!("hints_target{i}"),
                    &format!(
                        "id={},addr={addr},count={},bytes={},oldest_age_ms={}",
                        t.target,
                        t.count,
                        t.bytes,
                        now.saturating_sub(t.oldest_ms)
                    ),
                );
            }
            kv("sibling_writes", &cs.sibling_writes.load(Ordering::Relaxed));
            kv("siblings_collapsed", &cs.collapsed_siblings.load(Ordering::Relaxed));
            kv("tombstones", &coord.tombstones());
            kv("tombstones_reaped", &cs.tombstones_reaped.load(Ordering::Relaxed));
            kv("max_siblings", &cfg.max_siblings);
            kv("row_cache_bytes", &coord.row_cache_bytes());
            kv("row_cache_limit_bytes", &(cfg.row_cache_mb << 20));
            kv("key_filter_bytes", &(cfg.key_filter_mb << 20));
            kv("key_filter_fill", &format!("{:.4}", coord.key_filter_fill().unwrap_or(0.0)));
            kv("log_write_errors", &crate::telemetry::log_write_errors());
            kv("log_dropped", &crate::telemetry::log_dropped());
        }
        "commandstats" => {
            for (name, calls, usec, failed) in node.stats.command_stats() {
                let per = if calls > 0 { usec as f64 / calls as f64 } else { 0.0 };
                kv(
                    &format!("cmdstat_{name}"),
                    &format!("calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls=0,failed_calls={failed}"),
                );
            }
        }
        "errorstats" => {
            for (prefix, count) in node.stats.error_stats() {
                kv(&format!("errorstat_{prefix}"), &format!("count={count}"));
            }
        }
        _ => {}
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes}B")
    } else {
        format!("{v:.2}{}", UNITS[u])
    }
}

/// Resident set size from `/proc/self/statm` (0 where unavailable).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

/// (user, system) CPU seconds from `/proc/self/stat` (zeros where unavailable).
fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return (0.0, 0.0) };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return (0.0, 0.0) };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (ticks(11), ticks(12))
}
