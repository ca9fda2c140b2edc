#!/usr/bin/env bash
# cpu-callgrind.sh — instructions per request of a Cartwheel build, counted by valgrind's
# callgrind: repeatable to a fraction of a percent whatever else the machine does, so it can show a
# few-percent difference that CPU time on this noisy 2-core VM cannot (benches/cpu.sh).
#
# Each build runs as a one-node CLUSTER (cluster-enabled, N clamps to 1): the cluster code path,
# anti-entropy's trees maintained from the change feed, no peers to add noise. The server starts
# under callgrind on a fresh data directory, gets N requests from redis-benchmark (-t TEST -P P
# -r KEYSPACE -d 64 -c 1), and stops (SHUTDOWN). Per request = the instructions of the client
# connection's task (inclusive: parsing, routing, the command, the coordinator, the store write,
# the change feed and the trees, the durability commit, the reply) / N. Whole-process counts are
# printed too, but they also hold work that grows with wall time rather than requests (the expiry
# sweep re-reads its page 10 times a second), which differs between runs under valgrind.
#
# Usage:
#   benches/cpu-callgrind.sh --cartwheel NAME=BINARY [--cartwheel NAME=BINARY]...
#                            [--test set] [--requests 20000] [--pipeline 1] [--keyspace 100000]
#                            [--standalone]   (a standalone node instead of a one-node cluster)
#   Example: benches/cpu-callgrind.sh --cartwheel before=/tmp/cw-before --cartwheel after=target/release/cartwheel
# Output: one line per build. Servers are stopped by PID on exit; every start waits at most 120 s.
set -euo pipefail
cd "$(dirname "$0")/.."

builds=()
test=set
requests=20000
pipeline=1
keyspace=100000
mode=(--cluster-secret bench)
while [ $# -gt 0 ]; do
  case "$1" in
    --cartwheel) builds+=("$2"); shift 2 ;;
    --test) test="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --pipeline) pipeline="$2"; shift 2 ;;
    --keyspace) keyspace="$2"; shift 2 ;;
    --standalone) mode=(); shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#builds[@]} -gt 0 ] || { echo "give at least one --cartwheel NAME=BINARY" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 2; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark is needed (redis-tools)" >&2; exit 2; }

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port=17411
# Instructions of one run of n requests: "<connection task> <whole process>".
run() {
  local bin="$1" n="$2"
  local dir="$work/data-$n-$RANDOM"
  mkdir -p "$dir"
  local out="$work/callgrind.$RANDOM"
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$out" "$bin" --port "$port" --dir "$dir" \
    "${mode[@]}" --fsync everysec >"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1200); do
    redis-cli -p "$port" PING 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  redis-cli -p "$port" PING | grep -q PONG || { echo "server did not start" >&2; tail "$work/server.log" >&2; exit 1; }
  redis-benchmark -p "$port" -t "$test" -n "$n" -r "$keyspace" -d 64 -c 1 -P "$pipeline" -q >/dev/null
  redis-cli -p "$port" SHUTDOWN >/dev/null 2>&1 || true
  wait "$pid" || true
  pid=""
  local conn total annotated task
  # The connection task is one instance of TrackedFuture::poll (mangled names tell instances
  # apart; demangled, every task's poll has the same name): the instance with code of
  # edge/connection.rs inlined. Its entry under task_tracker.rs, where each poll starts, is the
  # task's inclusive total, however the compiler spread the inlined code over source files.
  annotated=$(callgrind_annotate --inclusive=yes --threshold=100 "$out" 2>/dev/null | grep -v '=>' || true)
  task=$(grep -m1 -E 'edge/connection\.rs:_ZN[^ ]*TrackedFuture[^ ]*4poll' <<<"$annotated" \
    | sed -E 's/.*connection\.rs:([^ ]+).*/\1/' || true)
  conn=$(grep -m1 -F "task_tracker.rs:$task" <<<"$annotated" | awk '{gsub(",", "", $1); print $1}' || true)
  [ -n "$task" ] || conn=0
  total=$(grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}')
  echo "${conn:-0} $total"
}

kind="one-node cluster"
[ ${#mode[@]} -eq 0 ] && kind="standalone"
echo "instructions per ${test^^} request (-P $pipeline, keyspace $keyspace, $kind, callgrind, n = $requests)"
for b in "${builds[@]}"; do
  name="${b%%=*}"
  bin="${b#*=}"
  read -r conn total < <(run "$bin" "$requests")
  printf '%-12s %8d per request in the connection task   (whole process: %d per request)\n' \
    "$name" $((conn / requests)) $((total / requests))
done
