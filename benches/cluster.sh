#!/usr/bin/env bash
# cluster.sh — a 3-node Cartwheel cluster (N=3, R=2, W=2) vs one Cartwheel
# node, same machine, same run.
#
# Starts a single node and three cluster nodes on 127.0.0.1 (free ports, fresh
# data dirs, all --fsync everysec), waits until every node answers PING and
# shows cluster_known_nodes:3 and no "fail" in CLUSTER NODES, then for each
# round and test (set, get) runs three modes back to back (interleaved):
#   single         one redis-benchmark -c C against the single node
#   cluster-hop    three plain redis-benchmarks in parallel, one per node,
#                  -c and -n split (17/17/16 for C=50) so the totals are C and N;
#                  a node that does not own a key's slot proxies the request to
#                  one that does (the "hop"). rps = the SUM of the three rps,
#                  p50 = the middle of the three p50s and p99 = the MAX of the
#                  three p99s (an approximation: exact merged percentiles need
#                  the latency histograms, which --csv does not give)
#   cluster-aware  redis-benchmark --cluster -h 127.0.0.1 -p PORT1 -c C: reads
#                  CLUSTER NODES and sends each client's keys straight to the
#                  node owning their slot (its keys carry one hash tag per node,
#                  key:{tag}:NNN; with N=3 on 3 nodes every node stores every key
#                  anyway). If it fails, its error is logged, its rows are n/a
#                  and the table footer says why; the run goes on.
# Each run: redis-benchmark -t TEST -n N -r 100000 -d 64 -P 1 --csv (one run per
# test, so the three hop processes do SETs, then GETs, together). The table has
# per (test, mode) the MEDIANS over the rounds of rps, p50, p99; the rps ratio vs
# single (of the medians, and "paired": median of the per-round ratios, which
# cancels drift between rounds); forwarded requests per request (delta of INFO
# cartwheel forwarded_requests over the nodes); the targets (>= 0.33x single
# rps at -P 1, p99 <= 5 ms); and hop vs aware latency.
#
# CPU pinning (2-core machine): all servers are pinned to CPU 0 and every
# redis-benchmark to CPU 1, for the single node and the cluster alike: both
# get the same one core, so the ratio measures what replication and
# coordination cost at equal hardware, and the load generators (three of them
# in hop mode) cannot steal server CPU — unpinned, the ratio would mostly
# measure how the scheduler splits 2 cores among 4-6 busy processes. Cartwheel
# sizes its worker pool from its CPU affinity (one worker when pinned).
# --no-pin runs everything unpinned.
# Any redis-benchmark of this user still running when the script starts is
# killed (by PID, listed in the log): stray ones from interrupted runs kept
# loading the machine and contaminated earlier measurements. --no-kill-strays
# aborts instead.
#
# Usage:
#   benches/cluster.sh [--cartwheel-bin PATH] [--requests N] [--rounds N] [--clients N]
#                      [--tests set,get] [--keyspace N] [--datasize N] [--pipeline N]
#                      [--out DIR] [--keep-data] [--no-pin] [--no-kill-strays]
#   --cartwheel-bin PATH  default target/release/cartwheel (relative to the repo root)
#   --requests N / --clients N  totals per run and mode: -n / -c (default 100000 / 50)
#   --rounds N     rounds; medians are taken over them (default 3)
#   --tests T / --keyspace N / --datasize N / --pipeline N
#                  -t / -r / -d / -P (default set,get / 100000 / 64 / 1)
#   --out DIR      output dir (default target/bench/cluster-<UTC timestamp>)
#   --keep-data    keep the servers' data dirs (default: deleted at exit)
#
# Output: DIR/raw/r<round>-<test>-<mode>[-n<node>].csv (redis-benchmark --csv),
# DIR/results.tsv (a row per round, test, mode), DIR/table.md (the report, also
# printed), DIR/logs/. Bounded waits: server start 30 s (BENCH_START_TIMEOUT),
# cluster convergence 30 s (BENCH_CLUSTER_TIMEOUT), a benchmark run 900 s
# (BENCH_RUN_TIMEOUT); what it started is stopped by PID on exit. Exit status 1
# if a run failed or a server died (missing data shows as n/a), 2 on a usage or
# setup error.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
START_TIMEOUT=${BENCH_START_TIMEOUT:-30}
CLUSTER_TIMEOUT=${BENCH_CLUSTER_TIMEOUT:-30}
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-900}
STOP_TIMEOUT=10

BIN=target/release/cartwheel
REQUESTS=100000 ROUNDS=3 CLIENTS=50 TESTS=set,get KEYSPACE=100000 DATASIZE=64 PIPELINE=1
OUT='' KEEP_DATA=0 PIN=1 KILL_STRAYS=1
SERVER_CPU=0 BENCH_CPU=1

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }
usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
is_uint() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --cartwheel-bin|--requests|--rounds|--clients|--tests|--keyspace|--datasize|--pipeline|--out)
      [[ $# -ge 2 ]] || die "$1 needs a value" ;;&
    --cartwheel-bin) BIN=$2; shift 2 ;;
    --requests)      REQUESTS=$2; shift 2 ;;
    --rounds)        ROUNDS=$2; shift 2 ;;
    --clients)       CLIENTS=$2; shift 2 ;;
    --tests)         TESTS=$2; shift 2 ;;
    --keyspace)      KEYSPACE=$2; shift 2 ;;
    --datasize)      DATASIZE=$2; shift 2 ;;
    --pipeline)      PIPELINE=$2; shift 2 ;;
    --out)           OUT=$2; shift 2 ;;
    --keep-data)     KEEP_DATA=1; shift ;;
    --no-pin)        PIN=0; shift ;;
    --no-kill-strays) KILL_STRAYS=0; shift ;;
    -h|--help)       usage; exit 0 ;;
    *)               usage >&2; die "unknown argument: $1" ;;
  esac
done

for v in REQUESTS ROUNDS CLIENTS KEYSPACE DATASIZE PIPELINE; do
  is_uint "${!v}" || die "--${v,,} must be a positive integer (got '${!v}')"
done
[[ $CLIENTS -ge 3 && $REQUESTS -ge 3 ]] || die "--clients and --requests must be >= 3 (split over 3 nodes)"
IFS=, read -ra TEST_LIST <<<"$TESTS"
[[ ${#TEST_LIST[@]} -gt 0 ]] || die "no tests given"
for c in redis-benchmark redis-cli taskset timeout; do command -v "$c" >/dev/null || die "$c not found"; done
[[ $BIN == /* ]] || BIN="$REPO_ROOT/$BIN"
[[ -x $BIN ]] || die "'$BIN' not found (cargo build --release first, or pass --cartwheel-bin)"
if [[ $PIN -eq 1 && $(nproc) -lt 2 ]]; then log "warning: fewer than 2 CPUs; servers and redis-benchmark all pinned to CPU 0"; BENCH_CPU=0; fi
SRV_PIN=() BENCH_PIN=()
[[ $PIN -eq 0 ]] || { SRV_PIN=(taskset -c "$SERVER_CPU"); BENCH_PIN=(taskset -c "$BENCH_CPU"); }

strays=$(pgrep -u "$(id -u)" -x redis-benchmark || true)
if [[ -n $strays ]]; then
  [[ $KILL_STRAYS -eq 1 ]] || die "stray redis-benchmark running (PIDs: $(echo $strays)); stop them or drop --no-kill-strays"
  log "killing stray redis-benchmark PIDs: $(echo $strays)"
  for p in $strays; do kill -TERM "$p" 2>/dev/null || true; done; sleep 1
  for p in $strays; do kill -KILL "$p" 2>/dev/null || true; done
fi

[[ -n $OUT ]] || OUT="$REPO_ROOT/target/bench/cluster-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT/raw" "$OUT/logs" "$OUT/data"
OUT=$(cd "$OUT" && pwd)
RESULTS="$OUT/results.tsv"
printf 'round\ttest\tmode\trps\tp50_ms\tp99_ms\tfwd_per_req\tfwd_node1,2,3\n' >"$RESULTS"

# ------------------------------------------------------------------ processes
PIDS=() NAMES=() BENCH_PIDS=() # servers we started; redis-benchmark runs in progress

alive() { # PID exists and is not a zombie
  local st; st=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

stop_pids() { # PIDs (children of ours): SIGTERM all, SIGKILL after STOP_TIMEOUT s
  local pid i any
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    any=0; for pid in "$@"; do if alive "$pid"; then any=1; fi; done
    [[ $any -eq 1 ]] || break; sleep 0.1
  done
  for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}

stop_all() {
  if [[ ${#BENCH_PIDS[@]} -gt 0 ]]; then stop_pids "${BENCH_PIDS[@]}"; BENCH_PIDS=(); fi
  if [[ ${#PIDS[@]} -gt 0 ]]; then stop_pids "${PIDS[@]}"; PIDS=(); fi
  if [[ $KEEP_DATA -eq 0 && -n $OUT ]]; then rm -rf "$OUT/data"; fi
}
cleanup() { local rc=$?; trap - EXIT INT TERM; stop_all; exit "$rc"; }
trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM

# shellcheck disable=SC2016 # $1 is expanded by the inner bash
port_in_use() { timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

TAKEN=' '
free_port() { # a port nobody listens on and not handed out before; sets PORT
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((24000 + RANDOM % 4000)) # below the ephemeral range (32768+)
    [[ $TAKEN == *" $p "* ]] && continue
    port_in_use "$p" || { TAKEN+="$p "; PORT=$p; return 0; }
  done
  die "could not find a free port"
}

cli() { timeout 2 redis-cli -h 127.0.0.1 -p "$@" 2>/dev/null | tr -d '\r'; }

# start_server NAME PORT DIR ARGS... ; waits for PING
start_server() {
  local name=$1 port=$2 dir=$3 logf="$OUT/logs/$1.log" pid deadline=$((SECONDS + START_TIMEOUT))
  shift 3
  mkdir -p "$dir"
  (cd "$REPO_ROOT" && exec "${SRV_PIN[@]}" "$BIN" --port "$port" --dir "$dir" --fsync everysec "$@") \
    </dev/null >"$logf" 2>&1 &
  pid=$! && PIDS+=("$pid") NAMES+=("$name")
  while ((SECONDS < deadline)); do
    alive "$pid" || { tail -n 20 "$logf" >&2; log "$name exited during startup"; exit 1; }
    if [[ $(cli "$port" ping) == PONG ]]; then return 0; fi
    sleep 0.1
  done
  tail -n 20 "$logf" >&2; log "$name did not answer PING within ${START_TIMEOUT}s"; exit 1
}

servers_alive() {
  local i ok=0
  for i in "${!PIDS[@]}"; do
    alive "${PIDS[$i]}" || { log "${NAMES[$i]} died; see $OUT/logs/${NAMES[$i]}.log"; ok=1; }
  done
  return $ok
}

fwd_nodes() { # INFO cartwheel forwarded_requests of each cluster node ('?' if unknown)
  local p; for p in "${CPORTS[@]}"; do
    cli "$p" info cartwheel | awk -F: '$1 == "forwarded_requests" { v = $2 } END { print ((v ~ /^[0-9]+$/) ? v : "?") }'
  done | tr '\n' ' '
}

FAILED=0 AWARE_ERR=''
run_bench() { # FILEBASE PORT CLIENTS REQUESTS TEST [EXTRA...]: one redis-benchmark, in the background
  local base=$1 port=$2 c=$3 n=$4 t=$5; shift 5
  "${BENCH_PIN[@]}" timeout -k 5 "$RUN_TIMEOUT" redis-benchmark "$@" -h 127.0.0.1 -p "$port" -t "$t" \
    -n "$n" -r "$KEYSPACE" -d "$DATASIZE" -c "$c" -P "$PIPELINE" --csv \
    </dev/null >"$OUT/raw/$base.csv" 2>"$OUT/logs/$base.bench.err" &
  BENCH_PIDS+=("$!")
}
wait_benches() { # -> 0 if every benchmark started exited 0
  local pid ok=0
  for pid in "${BENCH_PIDS[@]}"; do wait "$pid" || ok=1; done
  BENCH_PIDS=(); return $ok
}
csv_row() { grep '^"[A-Z]' "$OUT/raw/$1.csv" 2>/dev/null | head -n 1 | tr -d '"' | awk -F, 'NF >= 8 { print $2, $5, $7 }' || true; }
record() { # ROUND TEST MODE RPS P50 P99 FWD_PER_REQ FWD_PER_NODE
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"
  printf '  round %s  %-4s %-13s %7.0f rps  p50 %s  p99 %s ms  forwarded/req %s (per node %s)\n' "${@:1:6}" "${7:--}" "${8:--}" >&2
}

# one_run ROUND TEST MODE -> 1 if a server died
one_run() {
  local r=$1 t=$2 mode=$3 base="r$1-$2-$3" f0='' f1='' fwd='' fwdn='' i c n rows row rps p50 p99 ok=0
  [[ $mode == single ]] || f0=$(fwd_nodes)
  case $mode in
    single) run_bench "$base" "$SPORT" "$CLIENTS" "$REQUESTS" "$t"; wait_benches || ok=1; row=$(csv_row "$base") ;;
    cluster-hop)
      for i in 0 1 2; do
        c=$((CLIENTS / 3 + (i < CLIENTS % 3 ? 1 : 0))); n=$((REQUESTS / 3 + (i < REQUESTS % 3 ? 1 : 0)))
        run_bench "$base-n$((i + 1))" "${CPORTS[$i]}" "$c" "$n" "$t"
      done
      wait_benches || ok=1
      rows=$(for i in 1 2 3; do csv_row "$base-n$i"; done) row=''
      if [[ $(grep -c . <<<"$rows") -eq 3 ]]; then # sum of rps, middle p50, max p99
        row="$(awk '{ s += $1 } END { print s }' <<<"$rows") $(cut -d' ' -f2 <<<"$rows" | sort -g | sed -n 2p) $(cut -d' ' -f3 <<<"$rows" | sort -g | tail -n 1)"
      fi ;;
    cluster-aware)
      [[ -z $AWARE_ERR ]] || return 0
      run_bench "$base" "${CPORTS[0]}" "$CLIENTS" "$REQUESTS" "$t" --cluster; wait_benches || ok=1
      row=$(csv_row "$base")
      if [[ $ok -ne 0 || -z $row ]] && servers_alive 2>/dev/null; then # its own failure: note it, go on
        AWARE_ERR=$(grep -v '^[[:space:]]*$' "$OUT/logs/$base.bench.err" | tail -n 3 | tr '\n' ' ' || true)
        AWARE_ERR=${AWARE_ERR:-no error message, no CSV row}
        log "  redis-benchmark --cluster failed: $AWARE_ERR; see $OUT/{raw,logs}/$base.* (skipping cluster-aware from now on)"
        return 0
      fi ;;
  esac
  if [[ $mode != single && $f0 != *'?'* ]] && f1=$(fwd_nodes) && [[ $f1 != *'?'* ]]; then
    read -r fwd fwdn < <(awk -v a="$f0" -v b="$f1" -v n="$REQUESTS" 'BEGIN { split(a, x, " "); split(b, y, " ")
      for (i = 1; i <= 3; i++) { d = y[i] - x[i]; s += d; l = l (i > 1 ? "," : "") d }; printf "%.3f %s\n", s / n, l }')
  fi
  if [[ $ok -ne 0 || -z $row ]]; then
    log "  $base: redis-benchmark failed; see $OUT/logs/$base*.bench.err"; FAILED=1
  else
    read -r rps p50 p99 <<<"$row"
    record "$r" "$t" "$mode" "$rps" "$p50" "$p99" "$fwd" "$fwdn"
  fi
  servers_alive || { FAILED=1; return 1; }
}

# ----------------------------------------------------------------------- run
free_port; SPORT=$PORT CPORTS=() BPORTS=()
for i in 1 2 3; do free_port; CPORTS+=("$PORT"); free_port; BPORTS+=("$PORT"); done
log "output: $OUT"; LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "single node on :$SPORT; cluster nodes on :${CPORTS[*]} (cluster ports ${BPORTS[*]})"
start_server single "$SPORT" "$OUT/data/single"
CARGS=(--bind 127.0.0.1 --cluster --cluster-secret bench --replicas 3 --read-quorum 2 --write-quorum 2)
for i in 0 1 2; do
  seed=(); [[ $i -eq 0 ]] || seed=(--seed "127.0.0.1:${BPORTS[0]}")
  start_server "node$((i + 1))" "${CPORTS[$i]}" "$OUT/data/node$((i + 1))" "${CARGS[@]}" --cluster-port "${BPORTS[$i]}" "${seed[@]}"
done
deadline=$((SECONDS + CLUSTER_TIMEOUT))
while :; do
  ready=1
  for p in "${CPORTS[@]}"; do
    [[ $(cli "$p" cluster info) == *cluster_known_nodes:3* ]] || ready=0
    if [[ $ready -eq 1 && $(cli "$p" cluster nodes) == *fail* ]]; then ready=0; fi
  done
  [[ $ready -eq 1 ]] && break
  servers_alive || exit 1
  ((SECONDS < deadline)) || { log "cluster did not converge within ${CLUSTER_TIMEOUT}s"; exit 1; }; sleep 0.2
done
log "cluster converged: $(cli "${CPORTS[0]}" cluster info | grep -E '^cluster_(replicas|read_quorum|write_quorum):' | tr '\n' ' ')"

dead=0
for ((round = 1; round <= ROUNDS && dead == 0; round++)); do
  for t in "${TEST_LIST[@]}"; do
    for mode in single cluster-hop cluster-aware; do
      one_run "$round" "$t" "$mode" || { dead=1; break 2; }
    done
  done
done
stop_all

# --------------------------------------------------------------------- table
{
  echo "# Cartwheel: 3-node cluster (N=3, R=2, W=2) vs single node"
  echo
  echo "- date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')"
  echo "- commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_ROOT" diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r); $(redis-benchmark --version)"
  echo "- load average (1/5/15 min) at start: $LOAD0, at end: $(cut -d' ' -f1-3 /proc/loadavg) (more than ~2 means something else was running)"
  if [[ $PIN -eq 1 ]]; then echo "- all servers pinned to CPU $SERVER_CPU, every redis-benchmark to CPU $BENCH_CPU"; else echo "- unpinned"; fi
  echo "- \`redis-benchmark -t {$TESTS} -n $REQUESTS -r $KEYSPACE -d $DATASIZE -P $PIPELINE --csv\`, $CLIENTS clients per mode, $ROUNDS round(s) interleaved; medians over the rounds; all nodes \`--fsync everysec\`"
  echo "- cluster-hop: 3 parallel plain benchmarks, one per node; rps = sum, p50 = middle of the 3 p50s, p99 = max of the 3 p99s (approximation)"
  echo "- ratio = mode / single of the medians; paired = median of the per-round ratios; fwd/req = delta of INFO cartwheel forwarded_requests, all nodes, / requests (per node: results.tsv)"
  echo "- targets at -P 1: rps ratio >= 0.33 (aim 0.5) and p99 <= 5 ms"
  echo
  echo "| test | mode | rps | rps ratio | paired ratio | p50 ms | p99 ms | fwd/req | target |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
  awk -F'\t' -v tests="${TEST_LIST[*]}" -v awareerr="$AWARE_ERR" -v pipe="$PIPELINE" '
    function median(list,   n, i, j, t, a) {
      if ((n = split(list, a, " ")) == 0) return ""
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return (n % 2) ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(v, d) { return v == "" ? "n/a" : sprintf("%." d "f", v) }
    function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "" : a / b }
    NR > 1 {
      k = $2 SUBSEP $3
      L[k, "rps"] = L[k, "rps"] " " $4; L[k, "p50"] = L[k, "p50"] " " $5; L[k, "p99"] = L[k, "p99"] " " $6
      if ($7 != "") L[k, "fwd"] = L[k, "fwd"] " " $7
      single[$1, $2] = ($3 == "single") ? $4 : single[$1, $2]
      if ($3 != "single") { R[$1, $2, $3] = $4; rounds[$1] = 1 }
    }
    END {
      nt = split(tests, T, " "); split("single cluster-hop cluster-aware", M, " ")
      for (i = 1; i <= nt; i++) {
        for (m = 1; m <= 3; m++) {
          k = T[i] SUBSEP M[m]
          rps[k] = median(L[k, "rps"]); p50[k] = median(L[k, "p50"]); p99[k] = median(L[k, "p99"])
          s = T[i] SUBSEP "single"; pl = ""
          for (r in rounds) if (R[r, T[i], M[m]] != "" && single[r, T[i]] + 0 > 0) pl = pl " " R[r, T[i], M[m]] / single[r, T[i]]
          rr = ratio(rps[k], rps[s]); tg = "-"
          if (M[m] != "single" && pipe == 1) tg = (rr == "" || p99[k] == "") ? "n/a" : ((rr >= 0.33 ? "rps ok" : "rps MISS") ", " (p99[k] <= 5 ? "p99 ok" : "p99 MISS"))
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", T[i], M[m], fmt(rps[k], 0),
            M[m] == "single" ? "1.00" : fmt(rr, 2), M[m] == "single" ? "1.00" : fmt(median(pl), 2),
            fmt(p50[k], 3), fmt(p99[k], 3), M[m] == "single" ? "-" : fmt(median(L[k, "fwd"]), 3), tg
        }
      }
      print ""
      print "Cluster-aware routing vs proxied (hop), medians:"
      print ""
      print "| test | hop p50 ms | aware p50 ms | aware/hop p50 | hop p99 ms | aware p99 ms | aware/hop p99 | aware/hop rps |"
      print "|---|---:|---:|---:|---:|---:|---:|---:|"
      for (i = 1; i <= nt; i++) {
        h = T[i] SUBSEP "cluster-hop"; a = T[i] SUBSEP "cluster-aware"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", T[i], fmt(p50[h], 3), fmt(p50[a], 3), fmt(ratio(p50[a], p50[h]), 2),
          fmt(p99[h], 3), fmt(p99[a], 3), fmt(ratio(p99[a], p99[h]), 2), fmt(ratio(rps[a], rps[h]), 2)
      }
      if (awareerr != "") { print ""; print "cluster-aware: n/a — `redis-benchmark --cluster` failed: " awareerr }
    }' "$RESULTS"
} >"$OUT/table.md"

printf '\n%s\n\n' "$(cat "$OUT/table.md")"
log "raw CSVs: $OUT/raw/  all rows: $RESULTS  table: $OUT/table.md"
if [[ $FAILED -ne 0 ]]; then log "some runs failed or a server died (see above)"; exit 1; fi
