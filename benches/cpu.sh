#!/usr/bin/env bash
# cpu.sh — server CPU time per request: Cartwheel build(s) vs redis-server, same machine, same run.
#
# The measure the project reports for hot-path changes: on 2 cores a throughput ratio
# is client-bound and flatters the slower server, so this script reads the server process's own
# CPU time instead — utime + stime from /proc/PID/stat (all threads), before and after each
# redis-benchmark run — and divides by the requests served.
#
# Every server is pinned to one CPU (default 1) with taskset, redis-benchmark to another (default
# 0). All servers start at once (fresh data dirs); each gets one unmeasured warm-up SET run, so the
# keyspace exists before anything is measured. Then, for each round, each test (SET, GET) and each
# pipeline depth, the servers run one after the other (interleaved: redis, cartwheel A, cartwheel
# B, redis, …), with
#   redis-benchmark -h 127.0.0.1 -p PORT -t TEST -n N -r KEYSPACE -d 64 -c 50 -P P
# The table shows, per (test, P, server), the MEDIAN over the rounds of µs of server CPU per
# request and of requests per second, and each Cartwheel build's CPU per request over Redis's.
#
# Durability: redis-server --save '' --appendonly yes --appendfsync everysec;
#             cartwheel --fsync everysec (both log every write and fsync once a second).
#
# Usage:
#   benches/cpu.sh [--cartwheel NAME=BINARY]... [--rounds 3] [--pipelines "1 16"]
#                  [--requests-p1 200000] [--requests-p16 1000000] [--keyspace 100000]
#                  [--server-cpu 1] [--client-cpu 0] [--out DIR] [--no-redis]
#   --cartwheel NAME=BINARY  a build to measure (repeatable); default: new=target/release/cartwheel
#   Example, before/after a change:
#     benches/cpu.sh --cartwheel before=/tmp/cartwheel-old --cartwheel after=target/release/cartwheel
#
# Output: the table on stdout and in DIR/table.md, every measurement in DIR/results.tsv
# (round, test, P, server, requests, cpu_s, wall_s), server logs in DIR/logs/. Servers are stopped
# by PID on exit; every start waits at most 30 s and every run at most 600 s.
set -euo pipefail
cd "$(dirname "$0")/.."

builds=()
rounds=3
pipelines="1 16"
req_p1=200000
req_p16=1000000
keyspace=100000
server_cpu=1
client_cpu=0
out=""
with_redis=1
while [ $# -gt 0 ]; do
  case "$1" in
    --cartwheel) builds+=("$2"); shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --pipelines) pipelines="$2"; shift 2 ;;
    --requests-p1) req_p1="$2"; shift 2 ;;
    --requests-p16) req_p16="$2"; shift 2 ;;
    --keyspace) keyspace="$2"; shift 2 ;;
    --server-cpu) server_cpu="$2"; shift 2 ;;
    --client-cpu) client_cpu="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-redis) with_redis=0; shift ;;
    -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ ${#builds[@]} -gt 0 ] || builds=("new=target/release/cartwheel")
out="${out:-target/bench/cpu-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out/logs" "$out/data"
for tool in redis-benchmark taskset; do
  command -v "$tool" >/dev/null || { echo "cpu.sh needs $tool" >&2; exit 1; }
done
[ "$with_redis" = 0 ] || command -v redis-server >/dev/null || { echo "cpu.sh needs redis-server" >&2; exit 1; }

names=()
pids=()
ports=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

port=$((21000 + RANDOM % 4000))
start() { # name, then the command
  local name="$1"; shift
  taskset -c "$server_cpu" "$@" >"$out/logs/$name.log" 2>&1 &
  pids+=("$!"); names+=("$name"); ports+=("$port")
  local deadline=$((SECONDS + 30))
  until redis-cli -p "$port" ping >/dev/null 2>&1; do
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "$name exited at start; see $out/logs/$name.log" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "$name did not start in 30 s" >&2; exit 1; }
    sleep 0.1
  done
  port=$((port + 1))
}

if [ "$with_redis" = 1 ]; then
  mkdir -p "$out/data/redis"
  start redis redis-server --port "$port" --dir "$out/data/redis" --save '' --appendonly yes --appendfsync everysec
fi
for b in "${builds[@]}"; do
  name="${b%%=*}"; bin="${b#*=}"
  [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 1; }
  mkdir -p "$out/data/$name"
  start "$name" "$bin" --port "$port" --dir "$out/data/$name" --fsync everysec
done

cpu_s() { # utime + stime of a process, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

bench() { # port, test, pipeline, requests
  timeout 600 taskset -c "$client_cpu" redis-benchmark -h 127.0.0.1 -p "$1" -t "$2" -n "$4" \
    -r "$keyspace" -d 64 -c 50 -P "$3" -q >/dev/null 2>>"$out/logs/benchmark.log"
}

for i in "${!names[@]}"; do
  bench "${ports[$i]}" set 16 "$req_p16"
done

printf 'round\ttest\tP\tserver\trequests\tcpu_s\twall_s\n' >"$out/results.tsv"
for round in $(seq 1 "$rounds"); do
  for test in set get; do
    for p in $pipelines; do
      n=$req_p1; [ "$p" = 1 ] || n=$req_p16
      for i in "${!names[@]}"; do
        before=$(cpu_s "${pids[$i]}")
        t0=$(date +%s.%N)
        bench "${ports[$i]}" "$test" "$p" "$n"
        t1=$(date +%s.%N)
        after=$(cpu_s "${pids[$i]}")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$test" "$p" "${names[$i]}" "$n" \
          "$(awk -v a="$after" -v b="$before" 'BEGIN { print a - b }')" \
          "$(awk -v a="$t1" -v b="$t0" 'BEGIN { print a - b }')" >>"$out/results.tsv"
      done
    done
  done
  echo "round $round done" >&2
done

python3 - "$out/results.tsv" "$with_redis" <<'EOF' | tee "$out/table.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
with_redis = sys.argv[2] == "1"
servers = list(dict.fromkeys(r["server"] for r in rows))
cases = list(dict.fromkeys((r["test"], r["P"]) for r in rows))
med = {}
for (t, p) in cases:
    for s in servers:
        rs = [r for r in rows if r["test"] == t and r["P"] == p and r["server"] == s]
        us = statistics.median(float(r["cpu_s"]) * 1e6 / int(r["requests"]) for r in rs)
        rps = statistics.median(int(r["requests"]) / float(r["wall_s"]) for r in rs)
        med[(t, p, s)] = (us, rps, len(rs))
head = "| test | P | " + " | ".join(f"{s} µs/req" for s in servers)
head += " | " + " | ".join(f"{s} rps" for s in servers)
others = [s for s in servers if s != "redis"]
if with_redis:
    head += " | " + " | ".join(f"{s} ÷ redis" for s in others)
print(head + " |")
print("|" + "---|" * (head.count("|") - 1))
for (t, p) in cases:
    line = f"| {t.upper()} | {p} | " + " | ".join(f"{med[(t, p, s)][0]:.2f}" for s in servers)
    line += " | " + " | ".join(f"{med[(t, p, s)][1]:,.0f}" for s in servers)
    if with_redis:
        line += " | " + " | ".join(f"{med[(t, p, s)][0] / med[(t, p, 'redis')][0]:.2f}" for s in others)
    print(line + " |")
print(f"\nmedians of {med[cases[0] + (servers[0],)][2]} rounds; server CPU (utime+stime) per request")
EOF
