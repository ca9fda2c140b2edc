#!/usr/bin/env bash
# compare.sh — Cartwheel vs redis-server, same machine, same run.
#
# Starts Debian's redis-server and Cartwheel side by side (different ports,
# fresh data dirs under the output dir), both pinned to CPU 0 with taskset;
# redis-benchmark runs pinned to CPU 1. For each fsync mode ("section"), for
# each round and each pipeline depth, it benchmarks redis then Cartwheel
# (interleaved: redis, cartwheel, redis, cartwheel, ...) with
#   redis-benchmark -h 127.0.0.1 -p PORT -t set,get -n 300000 -r 100000 -d 64 -c 50 -P {1,16} --csv
# and prints a markdown table of the MEDIANS over the rounds of rps, p50 and
# p99 per (test, pipeline, server), with the cartwheel/redis ratios: the ratio
# of the medians, and the "paired" ratio = the median over the rounds of the
# per-round ratio (the two runs of a round are back to back, so the paired
# ratio cancels the machine's drift between rounds; trust it more).
#
# Durability pairing (the same {FSYNC} value is given to both servers):
#   section "everysec" (default, "plain"):
#       redis-server --save '' --appendonly yes --appendfsync everysec
#       cartwheel    --fsync everysec
#   section "always" (durable; --fsync-always runs only this one):
#       redis-server --save '' --appendonly yes --appendfsync always
#       cartwheel    --fsync always
#   section "no" (only on request, --fsync-modes no):
#       redis-server --save '' --appendonly yes --appendfsync no
#       cartwheel    --fsync no
# Both servers write every acknowledged write to a log and differ only in who
# fsyncs it when, so each section compares like with like. RDB snapshots are
# off (--save '').
#
# Usage:
#   benches/compare.sh [--cartwheel-cmd CMD] [--redis-cmd CMD]
#                      [--requests N] [--rounds N] [--pipelines "1 16"]
#                      [--tests set,get] [--clients N] [--keyspace N] [--datasize N]
#                      [--fsync-modes "everysec always"] [--fsync-always]
#                      [--out DIR] [--keep-data]
#
#   --cartwheel-cmd CMD  default: target/release/cartwheel --port {PORT} --dir {DIR} --fsync {FSYNC}
#   --redis-cmd CMD      default: redis-server --port {PORT} --dir {DIR} --save '' --appendonly yes --appendfsync {FSYNC}
#                        {PORT}, {DIR} and {FSYNC} are substituted; the command
#                        is run from the repo root with `bash -c "exec CMD"`.
#   --requests N   redis-benchmark -n (default 300000)
#   --rounds N     rounds per section; medians are taken over them (default 5)
#   --pipelines L  redis-benchmark -P values (default "1 16")
#   --tests T      redis-benchmark -t (default set,get)
#   --clients N / --keyspace N / --datasize N   -c / -r / -d (default 50 / 100000 / 64)
#   --fsync-modes L  sections to run (default "everysec always")
#   --fsync-always   same as --fsync-modes always
#   --out DIR      output dir (default target/bench/<UTC timestamp>)
#   --keep-data    keep the servers' data dirs (default: deleted after each section)
#
# Quick check of the script itself (both columns are redis, ratios should be ~1.0):
#   benches/compare.sh --rounds 1 --requests 50000 \
#     --cartwheel-cmd "redis-server --port {PORT} --dir {DIR} --save '' --appendonly yes --appendfsync {FSYNC}"
#
# Output: DIR/raw/<section>-r<round>-P<pipeline>-<server>.csv (redis-benchmark
# --csv output), DIR/results.tsv (all rows), DIR/table.md (the report, also
# printed), DIR/logs/ (server and benchmark stderr). Every server start waits
# at most 30 s (BENCH_START_TIMEOUT), every benchmark run at most 900 s
# (BENCH_RUN_TIMEOUT); all servers are stopped by PID on exit. Exit status 1
# if a run failed or a server died (the table then shows n/a where data is
# missing), 2 on a usage or setup error.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
START_TIMEOUT=${BENCH_START_TIMEOUT:-30}
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-900}
STOP_TIMEOUT=10

CARTWHEEL_CMD='target/release/cartwheel --port {PORT} --dir {DIR} --fsync {FSYNC}'
REDIS_CMD="redis-server --port {PORT} --dir {DIR} --save '' --appendonly yes --appendfsync {FSYNC}"
REQUESTS=300000
ROUNDS=5
PIPELINES='1 16'
TESTS='set,get'
CLIENTS=50
KEYSPACE=100000
DATASIZE=64
MODES='everysec always'
OUT=''
KEEP_DATA=0
SERVER_CPU=0
BENCH_CPU=1

log() { printf 'compare: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }
usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
is_uint() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --cartwheel-cmd|--redis-cmd|--requests|--rounds|--pipelines|--tests|--clients|--keyspace|--datasize|--fsync-modes|--out)
      [[ $# -ge 2 ]] || die "$1 needs a value" ;;&
    --cartwheel-cmd) CARTWHEEL_CMD=$2; shift 2 ;;
    --redis-cmd)     REDIS_CMD=$2; shift 2 ;;
    --requests)      REQUESTS=$2; shift 2 ;;
    --rounds)        ROUNDS=$2; shift 2 ;;
    --pipelines)     PIPELINES=$2; shift 2 ;;
    --tests)         TESTS=$2; shift 2 ;;
    --clients)       CLIENTS=$2; shift 2 ;;
    --keyspace)      KEYSPACE=$2; shift 2 ;;
    --datasize)      DATASIZE=$2; shift 2 ;;
    --fsync-modes)   MODES=$2; shift 2 ;;
    --fsync-always)  MODES=always; shift ;;
    --out)           OUT=$2; shift 2 ;;
    --keep-data)     KEEP_DATA=1; shift ;;
    -h|--help)       usage; exit 0 ;;
    *)               usage >&2; die "unknown argument: $1" ;;
  esac
done

for v in REQUESTS ROUNDS CLIENTS KEYSPACE DATASIZE; do
  is_uint "${!v}" || die "--${v,,} must be a positive integer (got '${!v}')"
done
read -ra PIPELINE_LIST <<<"$PIPELINES"
read -ra MODE_LIST <<<"$MODES"
[[ ${#PIPELINE_LIST[@]} -gt 0 ]] || die "no pipelines given"
for p in "${PIPELINE_LIST[@]}"; do is_uint "$p" || die "bad pipeline depth '$p'"; done
[[ ${#MODE_LIST[@]} -gt 0 ]] || die "no fsync modes given"
for m in "${MODE_LIST[@]}"; do
  case $m in no|everysec|always) ;; *) die "fsync mode must be no, everysec or always (got '$m')" ;; esac
done
for c in redis-server redis-benchmark redis-cli taskset; do
  command -v "$c" >/dev/null 2>&1 || die "$c not found (apt-get install redis-server redis-tools util-linux)"
done
if [[ $(nproc) -lt 2 ]]; then
  log "warning: fewer than 2 CPUs; servers and redis-benchmark all pinned to CPU 0"
  BENCH_CPU=0
fi
first_word=${CARTWHEEL_CMD%% *}
if [[ $first_word == */* && ! -x $REPO_ROOT/$first_word && ! -x $first_word ]]; then
  die "'$first_word' not found (cargo build --release first, or pass --cartwheel-cmd)"
fi

[[ -n $OUT ]] || OUT="$REPO_ROOT/target/bench/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT/raw" "$OUT/logs" "$OUT/data"
OUT=$(cd "$OUT" && pwd)
RESULTS="$OUT/results.tsv"
printf 'section\tround\tpipeline\tserver\ttest\trps\tavg_ms\tmin_ms\tp50_ms\tp95_ms\tp99_ms\tmax_ms\n' >"$RESULTS"

# ------------------------------------------------------------------ processes
PIDS=()       # servers we started
BENCH_PID=''  # the redis-benchmark run in progress, if any

alive() { # PID exists and is not a zombie
  local st
  [[ -r /proc/$1/stat ]] || return 1
  st=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

stop_pid() { # PID (a child of ours): SIGTERM, SIGKILL after STOP_TIMEOUT s
  local pid=$1 i
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  wait "$pid" 2>/dev/null || true
}

stop_all() {
  local pid
  if [[ -n $BENCH_PID ]]; then stop_pid "$BENCH_PID"; BENCH_PID=''; fi
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  PIDS=()
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck disable=SC2016 # $1 is expanded by the inner bash
port_in_use() { timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((24000 + RANDOM % 4000)) # below the ephemeral range (32768+)
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "could not find a free port"
}

# start_server NAME CMD PORT DIR LOG -> sets STARTED_PID; waits for PING
start_server() {
  local name=$1 cmd=$2 port=$3 dir=$4 logf=$5 pid i
  mkdir -p "$dir"
  bash -c 'cd "$1" && exec taskset -c "$2" bash -c "exec $3"' _ "$REPO_ROOT" "$SERVER_CPU" "$cmd" \
    </dev/null >"$logf" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    if ! alive "$pid"; then
      tail -n 20 "$logf" >&2
      log "$name exited during startup: $cmd"; exit 1
    fi
    if [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG* ]]; then
      alive "$pid" || { log "$name: something else answered on port $port"; exit 1; }
      STARTED_PID=$pid
      return 0
    fi
    sleep 0.1
  done
  tail -n 20 "$logf" >&2
  log "$name did not answer PING within ${START_TIMEOUT}s: $cmd"; exit 1
}

subst() { # CMD PORT DIR FSYNC
  local c=$1
  c=${c//\{PORT\}/$2}; c=${c//\{DIR\}/$3}; c=${c//\{FSYNC\}/$4}
  printf '%s' "$c"
}

FAILED=0

# bench SECTION ROUND PIPELINE SERVER PORT SERVER_PID
bench() {
  local section=$1 round=$2 pipe=$3 server=$4 port=$5 spid=$6 rc
  local base="$section-r$round-P$pipe-$server"
  local csv="$OUT/raw/$base.csv"
  taskset -c "$BENCH_CPU" timeout -k 5 "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "$port" \
    -t "$TESTS" -n "$REQUESTS" -r "$KEYSPACE" -d "$DATASIZE" -c "$CLIENTS" -P "$pipe" --csv \
    </dev/null >"$csv" 2>"$OUT/logs/$base.bench.err" &
  BENCH_PID=$!
  set +e
  wait "$BENCH_PID"
  rc=$?
  set -e
  BENCH_PID=''
  if [[ $rc -ne 0 ]] || ! grep -q '^"[A-Z]' "$csv"; then
    log "  $base: redis-benchmark failed (status $rc); see $OUT/logs/$base.bench.err"
    FAILED=1
  fi
  if ! alive "$spid"; then
    log "  $server died during $base; see $OUT/logs/$section-$server.log"
    FAILED=1
    return 1
  fi
  # "SET","123.45","0.1",... -> TSV row
  tr -d '"' <"$csv" | awk -F, -v OFS='\t' -v s="$section" -v r="$round" -v p="$pipe" -v sv="$server" \
    'NR > 1 && NF >= 8 { print s, r, p, sv, $1, $2, $3, $4, $5, $6, $7, $8 }' >>"$RESULTS"
  printf '  %-9s round %d  P=%-3s %-9s %s\n' "$section" "$round" "$pipe" "$server" \
    "$(tr -d '"' <"$csv" | awk -F, 'NR > 1 { printf "%s %s rps p99 %s ms   ", $1, $2, $7 }')" >&2
}

# ----------------------------------------------------------------------- run
{
  echo "# Cartwheel vs redis-server"
  echo
  echo "- date (UTC): $(date -u '+%Y-%m-%d %H:%M:%S')"
  echo "- commit: $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_ROOT" diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), kernel $(uname -r)"
  echo "- $(redis-server --version)"
  echo "- servers pinned to CPU $SERVER_CPU, redis-benchmark pinned to CPU $BENCH_CPU"
  echo "- \`redis-benchmark -t $TESTS -n $REQUESTS -r $KEYSPACE -d $DATASIZE -c $CLIENTS -P {$(echo "${PIPELINE_LIST[@]}" | tr ' ' ,)} --csv\`, $ROUNDS round(s), servers interleaved (redis, cartwheel, ...); medians over the rounds"
  echo "- redis: \`$REDIS_CMD\`"
  echo "- cartwheel: \`$CARTWHEEL_CMD\`"
  echo "- ratio = cartwheel / redis of the medians (rps: higher is better for cartwheel; p99: lower is better)"
  echo "- paired ratio = median over the rounds of (cartwheel / redis within the same round); the two runs of a round are back to back, so this cancels most of the machine's drift between rounds and is the number to trust"
} >"$OUT/table.md"

log "output: $OUT"
for mode in "${MODE_LIST[@]}"; do
  rport=$(free_port)
  cport=$(free_port)
  while [[ $cport == "$rport" ]]; do cport=$(free_port); done
  rdir="$OUT/data/$mode-redis"
  cdir="$OUT/data/$mode-cartwheel"
  rcmd=$(subst "$REDIS_CMD" "$rport" "$rdir" "$mode")
  ccmd=$(subst "$CARTWHEEL_CMD" "$cport" "$cdir" "$mode")
  log "section fsync=$mode: redis on :$rport, cartwheel on :$cport"
  start_server redis "$rcmd" "$rport" "$rdir" "$OUT/logs/$mode-redis.log"
  rpid=$STARTED_PID
  start_server cartwheel "$ccmd" "$cport" "$cdir" "$OUT/logs/$mode-cartwheel.log"
  cpid=$STARTED_PID
  dead=0
  for ((round = 1; round <= ROUNDS && dead == 0; round++)); do
    for pipe in "${PIPELINE_LIST[@]}"; do
      bench "$mode" "$round" "$pipe" redis "$rport" "$rpid" || { dead=1; break; }
      bench "$mode" "$round" "$pipe" cartwheel "$cport" "$cpid" || { dead=1; break; }
    done
  done
  stop_all
  if [[ $KEEP_DATA -eq 0 ]]; then rm -rf "$rdir" "$cdir"; fi
done

# --------------------------------------------------------------------- table
for mode in "${MODE_LIST[@]}"; do
  case $mode in
    everysec) title="fsync everysec (plain): redis appendonly yes + appendfsync everysec vs cartwheel --fsync everysec" ;;
    always)   title="fsync always (durable): redis appendonly yes + appendfsync always vs cartwheel --fsync always" ;;
    no)       title="fsync no: redis appendonly yes + appendfsync no vs cartwheel --fsync no" ;;
  esac
  {
    echo
    echo "## $title"
    echo
    echo "| test | P | redis rps | cartwheel rps | rps ratio | paired rps ratio | redis p50 ms | cartwheel p50 ms | redis p99 ms | cartwheel p99 ms | p99 ratio | paired p99 ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' -v mode="$mode" -v pipes="${PIPELINE_LIST[*]}" '
      function median(list,   n, i, j, t, a) {
        n = split(list, a, " ")
        if (n == 0) return ""
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return (n % 2) ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
      }
      # median over the rounds of the per-round ratio cartwheel/redis
      function paired(t, p, f,   r, l, a, b) {
        l = ""
        for (r in rounds) {
          a = val[t, p, "cartwheel", r, f]; b = val[t, p, "redis", r, f]
          if (a != "" && b != "" && b + 0 > 0) l = l " " (a / b)
        }
        return median(l)
      }
      function fmt(v, d) { return v == "" ? "n/a" : sprintf("%." d "f", v) }
      function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "n/a" : sprintf("%.2f", a / b) }
      NR > 1 && $1 == mode {
        rounds[$2] = 1
        val[$5, $3, $4, $2, "rps"] = $6; val[$5, $3, $4, $2, "p50"] = $9; val[$5, $3, $4, $2, "p99"] = $11
        k = $5 SUBSEP $3 SUBSEP $4
        list[k, "rps"] = list[k, "rps"] " " $6; list[k, "p50"] = list[k, "p50"] " " $9; list[k, "p99"] = list[k, "p99"] " " $11
        if (!(($5) in seen)) { seen[$5] = 1; order[++nt] = $5 }
      }
      END {
        np = split(pipes, P, " ")
        for (t = 1; t <= nt; t++) for (i = 1; i <= np; i++) {
          r = order[t] SUBSEP P[i] SUBSEP "redis"; c = order[t] SUBSEP P[i] SUBSEP "cartwheel"
          rr = median(list[r, "rps"]); cr = median(list[c, "rps"])
          r50 = median(list[r, "p50"]); c50 = median(list[c, "p50"])
          r99 = median(list[r, "p99"]); c99 = median(list[c, "p99"])
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", order[t], P[i],
            fmt(rr, 0), fmt(cr, 0), ratio(cr, rr), fmt(paired(order[t], P[i], "rps"), 2),
            fmt(r50, 3), fmt(c50, 3), fmt(r99, 3), fmt(c99, 3), ratio(c99, r99), fmt(paired(order[t], P[i], "p99"), 2)
        }
        if (nt == 0) print "| (no data) | | | | | | | | | | | |"
      }' "$RESULTS"
  } >>"$OUT/table.md"
done

rmdir "$OUT/data" 2>/dev/null || true
echo
cat "$OUT/table.md"
echo
log "raw CSVs: $OUT/raw/  all rows: $RESULTS  table: $OUT/table.md"
if [[ $FAILED -ne 0 ]]; then log "some runs failed (see above)"; exit 1; fi
