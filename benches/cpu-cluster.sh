#!/usr/bin/env bash
# cpu-cluster.sh — server CPU time per request of a 3-node Cartwheel cluster driven by a
# cluster-aware client (redis-benchmark --cluster), for one or more Cartwheel builds.
#
# The cluster counterpart of benches/cpu.sh: on 2 cores a throughput ratio is client-bound, so
# this script reads the servers' own CPU time instead — utime + stime from /proc/PID/stat (all
# threads) of each of the 3 node processes, before and after each redis-benchmark run — sums it
# over the 3 nodes and divides by the requests served. The figure is the whole cluster's CPU per
# client request, replication included: with N=3, R=2, W=2 (the defaults, written explicitly) a
# SET is applied on all three nodes and a GET asks more than one replica.
#
# Per build, 3 nodes run on loopback addresses of their own (build 1: 127.0.0.2-4, build 2:
# 127.0.0.5-7, …), with fresh data dirs, ports below the ephemeral range (a free random base in
# 21000-23999; build b's nodes use base+10b+{0,1,2} and cluster ports base+10b+{5,6,7}), a TOML
# config each (bind, port, dir, cluster-enabled, cluster-port, cluster-secret, cluster-name,
# seeds = [node 1's cluster address], fsync = "everysec", replicas/quorums; everything else at its
# default, gossip included), started from a private copy of the binary (DIR/bin/cartwheel-NAME, so a
# concurrent cargo build cannot swap it mid-run). Every node is pinned to one CPU (default 1) with
# taskset, redis-benchmark to another (default 0); Cartwheel sizes its worker pool from its CPU
# affinity (one worker when pinned). All builds' clusters run at once (idle when not measured).
# A cluster counts as converged when every node answers CLUSTER INFO with cluster_state:ok, lists
# 3 nodes, none "fail", in CLUSTER NODES, and answers a read (EXISTS) rather than an error such as
# TRYAGAIN. Each cluster gets one unmeasured warm-up SET run (so the keyspace exists). Then, for
# each round, each test (SET, GET) and each pipeline depth, the builds run one after the other
# (interleaved: A, B, …, A, B, …), each run being
#   redis-benchmark --cluster -h NODE1_IP -p NODE1_PORT -t TEST -n N -r KEYSPACE -d 64 -c 50 -P P -q
# redis-benchmark --cluster reads CLUSTER NODES and sends every key to a node owning its slot, so
# no node should have to forward (the fwd/req column, from INFO cartwheel forwarded_requests,
# read outside the measured window, shows whether any did).
# The table shows, per (test, P, build), the MEDIAN over the rounds of µs of cluster CPU per
# request and of requests per second (as redis-benchmark reports it), and each later build's CPU
# per request over the first build's.
#
# Usage:
#   benches/cpu-cluster.sh [--cartwheel NAME=BINARY]... [--rounds 3] [--pipelines "1 16"]
#                          [--requests-p1 100000] [--requests-p16 300000] [--keyspace 100000]
#                          [--server-cpu 1] [--client-cpu 0] [--out DIR] [--keep-data]
#   --cartwheel NAME=BINARY  a build to measure (repeatable); default: new=target/release/cartwheel
#   --requests-p16 N         requests per run at every pipeline depth other than 1
#   --keep-data              keep the nodes' data dirs and binary copies (default: deleted at exit)
#   Example, before/after a change:
#     benches/cpu-cluster.sh --cartwheel before=/tmp/cartwheel-old --cartwheel after=target/release/cartwheel
#
# Output: the table on stdout and in DIR/table.md (default DIR: target/bench/cpu-cluster-<UTC
# timestamp>), every measurement in DIR/results.tsv (round, test, P, build, requests, cpu_s = sum
# over the 3 nodes, cpu_s of each node, wall_s, rps, forwarded requests, error lines),
# redis-benchmark output in DIR/runs/, node configs in DIR/conf/, node logs in DIR/logs/. Nodes are
# stopped by PID on exit (SIGTERM, SIGKILL after 15 s); every node start and every cluster
# convergence waits at most 30 s, every run at most 600 s. Exit status 1 if a run failed or a
# node died, 2 on a usage or setup error.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO_ROOT=$(pwd)

builds=()
rounds=3
pipelines="1 16"
req_p1=100000
req_p16=300000
keyspace=100000
server_cpu=1
client_cpu=0
out=""
keep_data=0
START_TIMEOUT=30 CONVERGE_TIMEOUT=30 RUN_TIMEOUT=600 STOP_TIMEOUT=15

log() { printf 'cpu-cluster: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }
fail() { log "error: $*"; exit 1; }
need_value() { [ "$2" -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --cartwheel) need_value "$1" $#; builds+=("$2"); shift 2 ;;
    --rounds) need_value "$1" $#; rounds="$2"; shift 2 ;;
    --pipelines) need_value "$1" $#; pipelines="$2"; shift 2 ;;
    --requests-p1) need_value "$1" $#; req_p1="$2"; shift 2 ;;
    --requests-p16) need_value "$1" $#; req_p16="$2"; shift 2 ;;
    --keyspace) need_value "$1" $#; keyspace="$2"; shift 2 ;;
    --server-cpu) need_value "$1" $#; server_cpu="$2"; shift 2 ;;
    --client-cpu) need_value "$1" $#; client_cpu="$2"; shift 2 ;;
    --out) need_value "$1" $#; out="$2"; shift 2 ;;
    --keep-data) keep_data=1; shift ;;
    -h|--help) sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

is_uint() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
for v in rounds req_p1 req_p16 keyspace; do is_uint "${!v}" || die "$v must be a positive integer (got '${!v}')"; done
[[ $server_cpu =~ ^[0-9]+$ && $client_cpu =~ ^[0-9]+$ ]] || die "--server-cpu / --client-cpu must be CPU numbers"
read -ra pipe_list <<<"$pipelines"
[ ${#pipe_list[@]} -gt 0 ] || die "--pipelines is empty"
for p in "${pipe_list[@]}"; do is_uint "$p" || die "pipeline depths must be positive integers (got '$p')"; done
[ ${#builds[@]} -gt 0 ] || builds=("new=target/release/cartwheel")
[ ${#builds[@]} -le 40 ] || die "at most 40 builds (3 loopback addresses each)"
for tool in redis-benchmark redis-cli taskset timeout python3 getconf; do
  command -v "$tool" >/dev/null || die "cpu-cluster.sh needs $tool (apt-get install redis-tools util-linux coreutils python3)"
done
redis-benchmark --help 2>&1 | grep -q -- '--cluster' || die "this redis-benchmark has no --cluster option (needs Redis 7+): $(redis-benchmark --version)"

names=() bins=()
for b in "${builds[@]}"; do
  [[ $b == *=* ]] || die "--cartwheel wants NAME=BINARY (got '$b')"
  name="${b%%=*}" bin="${b#*=}"
  [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "build name '$name': use letters, digits, '_', '.', '-'"
  for n in "${names[@]:-}"; do [ "$n" != "$name" ] || die "build name '$name' given twice"; done
  [[ $bin == /* ]] || bin="$REPO_ROOT/$bin"
  names+=("$name") bins+=("$bin")
done

out="${out:-target/bench/cpu-cluster-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out/logs" "$out/data" "$out/conf" "$out/runs" "$out/bin"
out=$(cd "$out" && pwd)
hz=$(getconf CLK_TCK)

# ------------------------------------------------------------------ processes
pids=()       # every node we started, all builds
pid_build=()  # index of its build
bench_pid=""  # the redis-benchmark run in progress (its timeout wrapper)
cleanup() {
  local rc=$? p i any
  trap - EXIT INT TERM
  if [ -n "$bench_pid" ]; then kill -TERM "$bench_pid" 2>/dev/null || true; wait "$bench_pid" 2>/dev/null || true; fi
  for p in "${pids[@]:-}"; do if [ -n "$p" ]; then kill -TERM "$p" 2>/dev/null || true; fi; done
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    any=0
    for p in "${pids[@]:-}"; do if [ -n "$p" ] && alive "$p"; then any=1; fi; done
    [ "$any" = 1 ] || break
    sleep 0.1
  done
  for p in "${pids[@]:-}"; do
    [ -n "$p" ] || continue
    if alive "$p"; then log "node PID $p ignored SIGTERM for ${STOP_TIMEOUT}s; SIGKILL"; kill -KILL "$p" 2>/dev/null || true; fi
    wait "$p" 2>/dev/null || true
  done
  [ "$keep_data" = 1 ] || rm -rf "$out/data" "$out/bin"
  rm -f "$out"/runs/*.raw
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted (SIGINT); stopping the nodes"; exit 130' INT
trap 'log "terminated (SIGTERM); stopping the nodes"; exit 143' TERM

alive() { # PID exists and is not a zombie
  local st
  st=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}
cli() { timeout 3 redis-cli -h "$1" -p "$2" "${@:3}" 2>/dev/null | tr -d '\r' || true; }
# shellcheck disable=SC2016 # $1/$2 are expanded by the inner bash
port_in_use() { timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

node_ip() { echo "127.0.0.$((2 + 3 * $1 + $2))"; }   # build index, node index 0..2
node_port() { echo $((base + 10 * $1 + $2)); }
node_cport() { echo $((base + 10 * $1 + 5 + $2)); }

# a port base whose every port is free on its address
base=""
for ((try = 0; try < 50; try++)); do
  cand=$((21000 + 10 * (RANDOM % 300)))
  ok=1
  for bi in "${!names[@]}"; do
    for ni in 0 1 2; do
      ip=$((2 + 3 * bi + ni))
      if port_in_use "127.0.0.$ip" $((cand + 10 * bi + ni)) || port_in_use "127.0.0.$ip" $((cand + 10 * bi + 5 + ni)); then ok=0; break 2; fi
    done
  done
  [ "$ok" = 1 ] && { base=$cand; break; }
done
[ -n "$base" ] || die "found no free port range in 50 tries"

# private copies of the binaries (waits up to 30 s for one being rebuilt)
for bi in "${!names[@]}"; do
  src=${bins[$bi]} dst="$out/bin/cartwheel-${names[$bi]}"
  deadline=$((SECONDS + 30))
  until [ -f "$src" ] && [ -x "$src" ] && cp "$src" "$dst" 2>/dev/null && "$dst" --version >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "not a working executable after 30 s: $src"
    sleep 1
  done
  bins[$bi]=$dst
done

start_cluster() { # build index
  local bi=$1 name=${names[$1]} ni ip port cport seed cfg logf pid deadline
  local seed_addr; seed_addr="$(node_ip "$bi" 0):$(node_cport "$bi" 0)"
  for ni in 0 1 2; do
    ip=$(node_ip "$bi" "$ni") port=$(node_port "$bi" "$ni") cport=$(node_cport "$bi" "$ni")
    cfg="$out/conf/$name-node$((ni + 1)).toml" logf="$out/logs/$name-node$((ni + 1)).log"
    rm -rf "$out/data/$name-node$((ni + 1))"; mkdir -p "$out/data/$name-node$((ni + 1))"
    seed=""; [ "$ni" = 0 ] || seed="seeds = [\"$seed_addr\"]"
    cat >"$cfg" <<EOF
# benches/cpu-cluster.sh: build $name, node $((ni + 1)) of 3
bind = ["$ip"]
port = $port
dir = "$out/data/$name-node$((ni + 1))"
fsync = "everysec"
cluster-enabled = true
cluster-port = $cport
cluster-secret = "cpu-cluster-bench-$name"
cluster-name = "cpu-cluster-$name"
replicas = 3
read-quorum = 2
write-quorum = 2
$seed
EOF
    taskset -c "$server_cpu" "${bins[$bi]}" --config "$cfg" </dev/null >"$logf" 2>&1 &
    pid=$!
    pids+=("$pid") pid_build+=("$bi")
    deadline=$((SECONDS + START_TIMEOUT))
    until [ "$(cli "$ip" "$port" ping)" = PONG ]; do
      alive "$pid" || { tail -n 20 "$logf" >&2; fail "$name node $((ni + 1)) exited at start; see $logf"; }
      [ $SECONDS -lt $deadline ] || { tail -n 20 "$logf" >&2; fail "$name node $((ni + 1)) ($ip:$port) did not answer PING in ${START_TIMEOUT} s"; }
      sleep 0.1
    done
  done
  deadline=$((SECONDS + CONVERGE_TIMEOUT))
  local ready why nodes
  while :; do
    ready=1 why=""
    for ni in 0 1 2; do
      ip=$(node_ip "$bi" "$ni") port=$(node_port "$bi" "$ni")
      if [[ $(cli "$ip" "$port" cluster info) != *cluster_state:ok* ]]; then ready=0 why="node $((ni + 1)): CLUSTER INFO not cluster_state:ok"; break; fi
      nodes=$(cli "$ip" "$port" cluster nodes)
      if [ "$(grep -c . <<<"$nodes" || true)" != 3 ] || grep -q fail <<<"$nodes"; then
        ready=0 why="node $((ni + 1)): CLUSTER NODES has $(grep -c . <<<"$nodes" || true) line(s), $(grep -c fail <<<"$nodes" || true) failing"; break
      fi
      if ! [[ $(cli "$ip" "$port" exists cpu-cluster-readiness-probe) =~ ^[0-9]+$ ]]; then ready=0 why="node $((ni + 1)): a read is refused (not ready)"; break; fi
    done
    [ "$ready" = 1 ] && break
    nodes_alive "$bi"
    [ $SECONDS -lt $deadline ] || fail "$name cluster did not converge in ${CONVERGE_TIMEOUT} s ($why); logs: $out/logs/$name-node*.log"
    sleep 0.2
  done
}

nodes_alive() { # build index; exits if one of its nodes died
  local i
  for i in "${!pids[@]}"; do
    [ "${pid_build[$i]}" = "$1" ] || continue
    alive "${pids[$i]}" || fail "${names[$1]}: a node (PID ${pids[$i]}) died; see $out/logs/${names[$1]}-node*.log"
  done
}

build_pids() { # build index -> its 3 PIDs
  local i; for i in "${!pids[@]}"; do [ "${pid_build[$i]}" = "$1" ] && echo "${pids[$i]}"; done; return 0
}

cpu_s() { # utime + stime of each PID, in seconds, space-separated
  local p; for p in "$@"; do
    awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.2f ", ($12 + $13) / hz }' "/proc/$p/stat"
  done
}

fwd() { # build index -> sum of INFO cartwheel forwarded_requests over its nodes ("?" if unknown)
  local ni s=0 v
  for ni in 0 1 2; do
    v=$(cli "$(node_ip "$1" "$ni")" "$(node_port "$1" "$ni")" info cartwheel | awk -F: '$1 == "forwarded_requests" { print $2 }')
    [[ $v =~ ^[0-9]+$ ]] || { echo "?"; return 0; }
    s=$((s + v))
  done
  echo "$s"
}

bench() { # build index, test, pipeline, requests, output file; sets RPS and ERRS
  local bi=$1 f=$5 rc=0
  timeout -k 5 "$RUN_TIMEOUT" taskset -c "$client_cpu" redis-benchmark --cluster \
    -h "$(node_ip "$bi" 0)" -p "$(node_port "$bi" 0)" -t "$2" -n "$4" -r "$keyspace" -d 64 -c 50 -P "$3" -q \
    </dev/null >"$f.raw" 2>&1 &
  bench_pid=$!
  wait "$bench_pid" || rc=$? # in the background + wait, so that INT/TERM are handled at once
  bench_pid=""
  # drop the progress lines (rewritten in place with \r) and keep the rest
  tr '\r' '\n' <"$f.raw" | grep -v -e '^[[:space:]]*$' -e 'rps=.*overall' >"$f" || true
  rm -f "$f.raw"
  RPS=$(awk '/requests per second/ { sub(/^.*: /, ""); print $1; exit }' "$f")
  ERRS=$(grep -ciE 'error|moved|ask |tryagain|clusterdown' "$f" || true)
  nodes_alive "$bi"
  if [ "$rc" != 0 ] || [ -z "$RPS" ]; then
    tail -n 10 "$f" >&2
    fail "redis-benchmark --cluster against ${names[$bi]} failed (exit $rc${RPS:+, }${RPS:-, no 'requests per second' line}); see $f"
  fi
  if ! grep -q '^Cluster has 3 master nodes' "$f"; then
    log "warning: redis-benchmark did not report 3 master nodes for ${names[$bi]}: $(grep -m1 '^Cluster has' "$f" || echo 'no such line'); see $f"
  fi
  [ "$ERRS" = 0 ] || log "warning: $ERRS error line(s) in $f, e.g. $(grep -m1 -iE 'error|moved|ask |tryagain|clusterdown' "$f")"
}

# ------------------------------------------------------------------------ run
log "output: $out"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for bi in "${!names[@]}"; do
  start_cluster "$bi"
  log "${names[$bi]}: 3 nodes converged on $(node_ip "$bi" 0)-$(node_ip "$bi" 2), ports $(node_port "$bi" 0)-$(node_port "$bi" 2) (PIDs $(build_pids "$bi" | tr '\n' ' '))"
done
for bi in "${!names[@]}"; do
  bench "$bi" set 16 "$req_p16" "$out/runs/warmup-${names[$bi]}.txt"
  log "${names[$bi]}: warm-up SET done ($RPS rps)"
done

printf 'round\ttest\tP\tbuild\trequests\tcpu_s\tcpu_s_nodes\twall_s\trps\tforwarded\terror_lines\n' >"$out/results.tsv"
for round in $(seq 1 "$rounds"); do
  for test in set get; do
    for p in "${pipe_list[@]}"; do
      n=$req_p1; [ "$p" = 1 ] || n=$req_p16
      for bi in "${!names[@]}"; do
        mapfile -t bp < <(build_pids "$bi")
        f0=$(fwd "$bi")
        before=$(cpu_s "${bp[@]}")
        t0=$(date +%s.%N)
        bench "$bi" "$test" "$p" "$n" "$out/runs/r$round-$test-p$p-${names[$bi]}.txt"
        t1=$(date +%s.%N)
        after=$(cpu_s "${bp[@]}")
        f1=$(fwd "$bi")
        read -r cpu nodes_cpu < <(awk -v a="$after" -v b="$before" 'BEGIN {
          n = split(a, x, " "); split(b, y, " ")
          for (i = 1; i <= n; i++) { d = x[i] - y[i]; s += d; l = l (i > 1 ? "," : "") sprintf("%.2f", d) }
          printf "%.2f %s\n", s, l }')
        fw="?"; [[ $f0 == "?" || $f1 == "?" ]] || fw=$((f1 - f0))
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$test" "$p" "${names[$bi]}" "$n" "$cpu" "$nodes_cpu" \
          "$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')" "$RPS" "$fw" "$ERRS" >>"$out/results.tsv"
        log "  round $round ${test^^} P=$p ${names[$bi]}: $(awk -v c="$cpu" -v n="$n" 'BEGIN { printf "%.2f", c * 1e6 / n }') µs CPU/req (nodes $nodes_cpu s), $RPS rps, forwarded $fw"
      done
    done
  done
  log "round $round done"
done

python3 - "$out/results.tsv" "$rounds" "$hz" <<'EOF' >"$out/table.md.body"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
builds = list(dict.fromkeys(r["build"] for r in rows))
cases = list(dict.fromkeys((r["test"], r["P"]) for r in rows))
first = builds[0]
med = {}
for (t, p) in cases:
    for b in builds:
        rs = [r for r in rows if r["test"] == t and r["P"] == p and r["build"] == b]
        us = statistics.median(float(r["cpu_s"]) * 1e6 / int(r["requests"]) for r in rs)
        rps = statistics.median(float(r["rps"]) for r in rs)
        fw = [int(r["forwarded"]) / int(r["requests"]) for r in rs if r["forwarded"] != "?"]
        med[(t, p, b)] = (us, rps, statistics.median(fw) if fw else None, sum(int(r["error_lines"]) for r in rs))
others = builds[1:]
head = "| test | P | build | µs CPU/req (cluster) | rps | fwd/req"
head += "".join(f" | ÷ {first}" for _ in others[:1])
print(head + " |")
print("|---|---:|---|---:|---:|---:|" + ("---:|" if others else ""))
for (t, p) in cases:
    for b in builds:
        us, rps, fw, _ = med[(t, p, b)]
        line = f"| {t.upper()} | {p} | {b} | {us:.2f} | {rps:,.0f} | {'n/a' if fw is None else f'{fw:.3f}'}"
        if others:
            line += " | " + ("-" if b == first else f"{us / med[(t, p, first)][0]:.2f}")
        print(line + " |")
errs = sum(v[3] for v in med.values())
n = int(sys.argv[2])
print(f"\nmedians of {n} round{'s' if n != 1 else ''}; µs CPU/req = utime+stime summed over the 3 nodes "
      f"(clock tick {1000 / int(sys.argv[3]):g} ms per node) / requests; rps as reported by redis-benchmark")
if errs:
    print(f"\nWARNING: {errs} error line(s) in redis-benchmark output (see runs/)")
EOF
{
  echo "# Cartwheel: server CPU per request, 3-node cluster (N=3, R=2, W=2), redis-benchmark --cluster"
  echo
  echo "- date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S'); commit $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(redis-benchmark --version)"
  for bi in "${!names[@]}"; do
    echo "- build ${names[$bi]}: ${builds[$bi]#*=} (sha256 $(sha256sum "${bins[$bi]}" | cut -c1-12))"
  done
  echo "- nodes pinned to CPU $server_cpu, redis-benchmark to CPU $client_cpu; fsync everysec"
  echo "- \`redis-benchmark --cluster -t set|get -n $req_p1 (P=1) / $req_p16 (P>1) -r $keyspace -d 64 -c 50 -P {$pipelines}\`, builds interleaved per round"
  echo "- load average (1/5/15 min) at start: $load0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  cat "$out/table.md.body"
} >"$out/table.md"
rm -f "$out/table.md.body"
cat "$out/table.md"
