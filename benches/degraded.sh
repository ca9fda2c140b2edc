#!/usr/bin/env bash
# degraded.sh — a 3-node Cartwheel cluster (N=3, R=2, W=2) healthy vs with 1 of 3
# nodes stopped, same run, interleaved; and how long hinted handoff takes to
# drain after the node comes back.
#
# Starts three nodes on 127.0.0.1 (free ports, fresh data dirs, fsync everysec,
# gossip every 200 ms, suspicion after 1.5 s). Each round:
#   healthy   redis-benchmark -t set,get against node 1 (a plain client: node 1
#             coordinates its keys and proxies the others)
#   stop      node 3 gets SIGKILL; wait until nodes 1 and 2 report it failed
#   degraded  the same benchmark, with node 3 down (writes are hinted)
#   restart   node 3 starts again on its data; time until nodes 1 and 2 have no
#             pending hints left (INFO cartwheel hints_pending = 0): the drain time
# Errors: the INFO errorstats of nodes 1 and 2 are compared before and after
# each benchmark; any error reply (NOQUORUM…) is counted and reported.
# Pinning (2 cores): servers on CPU 0, redis-benchmark on CPU 1 (--no-pin: none).
#
# Usage: benches/degraded.sh [--cartwheel-bin PATH] [--rounds N] [--requests N]
#                            [--clients N] [--out DIR] [--no-pin]
# Defaults: target/release/cartwheel, 3 rounds, 100000 requests, 50 clients,
# -r 100000 -d 64 -P 1. Output: DIR/results.tsv and DIR/table.md (printed).
# Every wait is bounded; the servers are stopped by PID on exit.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=target/release/cartwheel ROUNDS=3 REQUESTS=100000 CLIENTS=50 OUT='' PIN=1
log() { printf 'degraded: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --cartwheel-bin) BIN=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done
for c in redis-benchmark redis-cli taskset timeout; do command -v "$c" >/dev/null || die "$c not found"; done
[[ $BIN == /* ]] || BIN="$REPO_ROOT/$BIN"
[[ -x $BIN ]] || die "'$BIN' not found (cargo build --release first)"
SRV_PIN=() BENCH_PIN=()
[[ $PIN -eq 0 ]] || { SRV_PIN=(taskset -c 0); BENCH_PIN=(taskset -c 1); }
[[ -n $OUT ]] || OUT="$REPO_ROOT/target/bench/degraded-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT/logs" "$OUT/data" "$OUT/raw"

PIDS=(0 0 0)
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${PIDS[@]}"; do
    if [[ $p -gt 0 ]]; then kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
  done
  rm -rf "$OUT/data"
  exit "$rc"
}
trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM

cli() { timeout 2 redis-cli -h 127.0.0.1 -p "$@" 2>/dev/null | tr -d '\r'; }
port_free() { ! timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
PORTS=() CPORTS=()
for i in 0 1 2; do
  for _ in $(seq 100); do p=$((24000 + RANDOM % 4000)); port_free "$p" && port_free $((p + 1)) && break; done
  PORTS+=("$p") CPORTS+=($((p + 1)))
done

write_config() { # node index
  local i=$1 seed=''
  [[ $i -eq 0 ]] || seed="seeds = [\"127.0.0.1:${CPORTS[0]}\"]"
  cat >"$OUT/node$((i + 1)).toml" <<EOF
port = ${PORTS[$i]}
dir = "$OUT/data/node$((i + 1))"
fsync = "everysec"
cluster-enabled = true
cluster-port = ${CPORTS[$i]}
cluster-secret = "bench"
gossip-interval-ms = 200
suspect-after-ms = 1500
$seed
EOF
}

start_node() { # index; waits for PING (30 s)
  local i=$1 deadline=$((SECONDS + 30))
  ("${SRV_PIN[@]}" "$BIN" --config "$OUT/node$((i + 1)).toml" >>"$OUT/logs/node$((i + 1)).log" 2>&1) &
  PIDS[$i]=$!
  until [[ $(cli "${PORTS[$i]}" ping) == PONG ]]; do
    ((SECONDS < deadline)) || die "node $((i + 1)) did not start"
    sleep 0.1
  done
}

healthy_count() { cli "${PORTS[$1]}" cluster nodes | grep -vc fail || true; }
wait_members() { # node index, healthy members wanted (30 s)
  local deadline=$((SECONDS + 30))
  until [[ $(healthy_count "$1") -eq $2 ]]; do
    ((SECONDS < deadline)) || die "node $(($1 + 1)) never saw $2 healthy members"
    sleep 0.1
  done
}
info_field() { cli "${PORTS[$1]}" info cartwheel | awk -F: -v f="$2" '$1 == f { print $2 }'; }
errors() { # error replies so far on nodes 1 and 2
  local i n=0 v
  for i in 0 1; do
    v=$(cli "${PORTS[$i]}" info errorstats | awk -F'count=' '/^errorstat_/ { s += $2 } END { print s + 0 }')
    n=$((n + v))
  done
  echo "$n"
}

bench() { # label round -> appends rows to results.tsv
  local label=$1 round=$2 before after csv="$OUT/raw/r$2-$1.csv"
  before=$(errors)
  timeout 900 "${BENCH_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "${PORTS[0]}" -t set,get -n "$REQUESTS" \
    -r 100000 -d 64 -c "$CLIENTS" -P 1 --csv >"$csv" 2>"$OUT/logs/bench-r$round-$label.err"
  after=$(errors)
  awk -F',' -v r="$round" -v m="$label" -v e=$((after - before)) 'NR > 1 {
      gsub(/"/, ""); t = tolower($1); printf "%s\t%s\t%s\t%s\t%s\t%d\n", r, t, m, $2, $7, e }' "$csv" \
    >>"$OUT/results.tsv"
}

printf 'round\ttest\tmode\trps\tp99_ms\terrors\n' >"$OUT/results.tsv"
printf 'round\thints_at_restart\tdrain_s\thints_disk_before\thints_disk_after\n' >"$OUT/drain.tsv"
for i in 0 1 2; do write_config "$i"; done
for i in 0 1 2; do start_node "$i"; done
for i in 0 1 2; do wait_members "$i" 3; done
log "cluster up: ports ${PORTS[*]}; output in $OUT"

for ((r = 1; r <= ROUNDS; r++)); do
  bench healthy "$r"
  kill -KILL "${PIDS[2]}"; wait "${PIDS[2]}" 2>/dev/null || true; PIDS[2]=0
  wait_members 0 2; wait_members 1 2
  bench degraded "$r"
  pending=$(( $(info_field 0 hints_pending) + $(info_field 1 hints_pending) ))
  disk_before=$(( $(info_field 0 hints_disk_bytes) + $(info_field 1 hints_disk_bytes) ))
  t0=$(date +%s.%N)
  start_node 2
  deadline=$((SECONDS + 300))
  while :; do
    left=$(( $(info_field 0 hints_pending) + $(info_field 1 hints_pending) ))
    [[ $left -eq 0 ]] && break
    ((SECONDS < deadline)) || die "hints did not drain within 300 s ($left left)"
    sleep 0.05
  done
  t1=$(date +%s.%N)
  # The hints keyspace is compacted once drained (a background step): give it 10 s at most.
  for _ in $(seq 100); do
    disk_after=$(( $(info_field 0 hints_disk_bytes) + $(info_field 1 hints_disk_bytes) ))
    [[ $disk_after -lt $disk_before || $disk_before -eq 0 ]] && break
    sleep 0.1
  done
  awk -v r="$r" -v p="$pending" -v a="$t0" -v b="$t1" -v d0="$disk_before" -v d1="$disk_after" \
    'BEGIN { printf "%s\t%s\t%.2f\t%s\t%s\n", r, p, b - a, d0, d1 }' >>"$OUT/drain.tsv"
  for i in 0 1 2; do wait_members "$i" 3; done
  log "round $r done"
done

python3 - "$OUT" <<'PY' | tee "$OUT/table.md"
import csv, statistics, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/results.tsv"), delimiter="\t"))
drain = list(csv.DictReader(open(f"{out}/drain.tsv"), delimiter="\t"))
med = statistics.median
print("| test | healthy rps | 1 of 3 down rps | paired ratio | healthy p99 ms | degraded p99 ms | errors (degraded) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for t in sorted({r["test"] for r in rows}):
    h = {r["round"]: r for r in rows if r["test"] == t and r["mode"] == "healthy"}
    d = {r["round"]: r for r in rows if r["test"] == t and r["mode"] == "degraded"}
    ratios = [float(d[k]["rps"]) / float(h[k]["rps"]) for k in h if k in d]
    print(f"| {t} | {med(float(x['rps']) for x in h.values()):,.0f} | {med(float(x['rps']) for x in d.values()):,.0f} "
          f"| **{med(ratios):.2f}** | {med(float(x['p99_ms']) for x in h.values()):.2f} "
          f"| {med(float(x['p99_ms']) for x in d.values()):.2f} | {sum(int(x['errors']) for x in d.values())} |")
print()
print("| round | hints pending at restart | drain time s | hints on disk before / after (bytes) |")
print("|---:|---:|---:|---:|")
for x in drain:
    print(f"| {x['round']} | {x['hints_at_restart']} | {x['drain_s']} | {x['hints_disk_before']} / {x['hints_disk_after']} |")
PY
