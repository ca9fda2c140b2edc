#!/usr/bin/env bash
# redis-suite.sh — run units of Redis's own Tcl test suite against an external
# server (Cartwheel by default), one fresh server per unit.
#
# The suite is NOT vendored: on first use it is fetched from Debian's `redis`
# source package (deb-src entries in a private sources list under
# target/redis-suite/apt, pointing at the Debian mirror this machine's own apt
# sources already use; /etc/apt is never modified) and extracted to
# target/redis-suite/redis-<version>. Reruns reuse that tree without touching
# the network (--refresh refetches). tclsh (package tcl) and dpkg-source
# (package dpkg-dev) are installed with apt-get when missing (needs root).
#
# Usage:
#   scripts/redis-suite.sh [--server-cmd "CMD"] [--units "unit/a unit/b ..."]
#                          [--keep-logs DIR] [--skip-file FILE] [--verbose]
#                          [--refresh] [--extra-args "SUITE ARGS"]
#
#   --server-cmd CMD   command that starts the server in the foreground; {PORT}
#                      and {DIR} are replaced by a fresh port and a fresh empty
#                      data dir for every unit. Run from the repo root through
#                      `bash -c "exec CMD"`, so shell quoting works.
#                      Default: $CARGO_TARGET_DIR (or target)/release/cartwheel --port {PORT} --dir {DIR}
#   --units LIST       suite units (tests/<unit>.tcl). Default:
#                      unit/protocol unit/keyspace unit/type/string unit/type/incr
#                      unit/expire unit/quit unit/info-command
#   --keep-logs DIR    where to keep each unit's suite output, server log and
#                      generated skip file (default target/redis-suite/logs,
#                      emptied at the start of every run)
#   --skip-file FILE   skip list (default tests/redis-suite/skip.txt; format
#                      described in that file)
#   --verbose          stream the suite's output (every [ok] line) as it runs
#   --refresh          refetch the Debian source package even if cached
#   --extra-args ARGS  extra arguments appended to test_helper.tcl's command line
#
# Example (what the script is validated with; must give 0 failures):
#   scripts/redis-suite.sh --server-cmd "redis-server --port {PORT} --dir {DIR} --save '' --appendonly no"
#
# Environment: REDIS_SUITE_CODENAME (default bookworm), REDIS_SUITE_MIRROR and
# REDIS_SUITE_SECURITY_MIRROR (override the mirrors read from /etc/apt),
# REDIS_SUITE_START_TIMEOUT (s, default 30), REDIS_SUITE_STOP_TIMEOUT (s,
# default 10), REDIS_SUITE_UNIT_TIMEOUT (s, wall clock per unit, default 1200).
#
# Output: one line per unit, the failing tests' details, and finally exactly
#   redis-suite: N passed, M failed, K skipped
# where skipped counts both skip.txt entries ([skip]) and tests/groups the suite
# left out by tag ([ignore]). Exit status: 0 if every unit passed, 1 if any test
# failed, a unit raised an exception/timed out, or a server died; 2 on a usage
# or setup error.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR="$REPO_ROOT/target/redis-suite"
CODENAME=${REDIS_SUITE_CODENAME:-bookworm}
START_TIMEOUT=${REDIS_SUITE_START_TIMEOUT:-30}
STOP_TIMEOUT=${REDIS_SUITE_STOP_TIMEOUT:-10}
UNIT_TIMEOUT=${REDIS_SUITE_UNIT_TIMEOUT:-1200}

SERVER_CMD="${CARGO_TARGET_DIR:-target}/release/cartwheel --port {PORT} --dir {DIR}"
UNITS='unit/protocol unit/keyspace unit/type/string unit/type/incr unit/expire unit/quit unit/info-command'
KEEP_LOGS=''
SKIP_FILE="$REPO_ROOT/tests/redis-suite/skip.txt"
VERBOSE=0
REFRESH=0
EXTRA_ARGS=''

# Capabilities an external non-Redis server does not have; the suite leaves
# out every test/group carrying one of these tags ([ignore] lines).
DENY_TAGS=(needs:repl needs:debug needs:save needs:config-maxmemory needs:latency
           needs:pfdebug needs:reset needs:config-resetstat needs:local-process)

log() { printf 'redis-suite: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --server-cmd) [[ $# -ge 2 ]] || die "$1 needs a value"; SERVER_CMD=$2; shift 2 ;;
    --units)      [[ $# -ge 2 ]] || die "$1 needs a value"; UNITS=$2; shift 2 ;;
    --keep-logs)  [[ $# -ge 2 ]] || die "$1 needs a value"; KEEP_LOGS=$2; shift 2 ;;
    --skip-file)  [[ $# -ge 2 ]] || die "$1 needs a value"; SKIP_FILE=$2; shift 2 ;;
    --extra-args) [[ $# -ge 2 ]] || die "$1 needs a value"; EXTRA_ARGS=$2; shift 2 ;;
    --verbose)    VERBOSE=1; shift ;;
    --refresh)    REFRESH=1; shift ;;
    -h|--help)    usage; exit 0 ;;
    *)            usage >&2; die "unknown argument: $1" ;;
  esac
done

read -ra UNIT_LIST <<<"$UNITS"
[[ ${#UNIT_LIST[@]} -gt 0 ]] || die "no units given"
read -ra EXTRA <<<"$EXTRA_ARGS"
[[ -f $SKIP_FILE ]] || die "skip file not found: $SKIP_FILE"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/redis-suite.XXXXXX")
SERVER_PID=''
SERVER_RC=0
SUITE_PID=''

# ---------------------------------------------------------------- processes
# alive PID: the process exists and is not a zombie (our own exited children
# stay zombies until reaped, and `kill -0` succeeds on zombies).
alive() {
  local st
  [[ -r /proc/$1/stat ]] || return 1
  st=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

stop_server() { # PID (a child of ours): SIGTERM, then SIGKILL after STOP_TIMEOUT s
  local pid=$1 i
  [[ -n $pid ]] || return 0
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      log "server pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  SERVER_RC=0
  wait "$pid" 2>/dev/null || SERVER_RC=$?
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $SUITE_PID ]]; then stop_server "$SUITE_PID"; fi
  if [[ -n $SERVER_PID ]]; then stop_server "$SERVER_PID"; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ping_port() { # PORT -> 0 if something answers PING with PONG
  if command -v redis-cli >/dev/null 2>&1; then
    [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG* ]]
  else
    # shellcheck disable=SC2016 # $1/$l are expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "PING\r\n" >&3 &&
      IFS= read -r -t 1 l <&3 && [[ $l == "+PONG"* ]]' _ "$1" 2>/dev/null
  fi
}

# shellcheck disable=SC2016 # $1 is expanded by the inner bash
port_in_use() { timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

free_port() { # a port in 28000-31999 nobody listens on (see SUITE_BASEPORT)
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((28000 + RANDOM % 4000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "could not find a free port"
}

# ------------------------------------------------------------ prerequisites
apt_install() { # PACKAGE... (system apt; refreshes the lists once on failure)
  [[ $EUID -eq 0 ]] || die "need package(s) $*; run as root or install them"
  log "installing $* with apt-get"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
      >>"$WORK/apt.log" 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$WORK/apt.log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
      >>"$WORK/apt.log" 2>&1 || { tail -n 20 "$WORK/apt.log" >&2; die "apt-get install $* failed"; }
  fi
}

need_cmd() { command -v "$1" >/dev/null 2>&1 || apt_install "$2"; command -v "$1" >/dev/null 2>&1 || die "$1 still missing"; }

# "URI SUITE" for every deb entry in the machine's own apt sources (one-line
# .list files and deb822 .sources files), so the private list uses the same
# mirror as the system without this script naming one.
system_apt_entries() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    sed -E 's/#.*//; s/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    awk '
      function flush(   n, m, i, j, U, S) {
        if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no") {
          n = split(uris, U, " "); m = split(suites, S, " ")
          for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print U[i], S[j]
        }
        types = uris = suites = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { key = tolower($1); val = $0; sub(/^[^:]*:[ \t]*/, "", val) }
      key == "types:"   { types = val }
      key == "uris:"    { uris = val }
      key == "suites:"  { suites = val }
      key == "enabled:" { enabled = val }
      END { flush() }' "$f"
  done
}

write_private_sources() { # FILE
  local out=$1 uri suite
  : >"$out"
  if [[ -n ${REDIS_SUITE_MIRROR:-} ]]; then
    printf 'deb-src %s %s main\ndeb-src %s %s-updates main\n' \
      "$REDIS_SUITE_MIRROR" "$CODENAME" "$REDIS_SUITE_MIRROR" "$CODENAME" >>"$out"
    if [[ -n ${REDIS_SUITE_SECURITY_MIRROR:-} ]]; then
      printf 'deb-src %s %s-security main\n' "$REDIS_SUITE_SECURITY_MIRROR" "$CODENAME" >>"$out"
    fi
  else
    while read -r uri suite; do
      case $suite in
        "$CODENAME"|"$CODENAME-updates"|"$CODENAME-security")
          printf 'deb-src %s %s main\n' "$uri" "$suite" >>"$out" ;;
      esac
    done < <(system_apt_entries | sort -u)
  fi
  grep -q "deb-src .* $CODENAME main" "$out" ||
    die "no Debian '$CODENAME' mirror found in /etc/apt sources; set REDIS_SUITE_MIRROR=<debian mirror URL>"
}

fetch_suite() { # prints the path of the extracted tree
  local apt="$CACHE_DIR/apt" dl tree dsc ver
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  write_private_sources "$apt/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
              -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache")
  [[ $EUID -ne 0 ]] || opts+=(-o "APT::Sandbox::User=root")
  log "fetching Debian '$CODENAME' source package 'redis' (private list: $apt/sources.list)"
  apt-get "${opts[@]}" -q update >"$WORK/apt-src.log" 2>&1 ||
    { tail -n 20 "$WORK/apt-src.log" >&2; die "apt-get update (private deb-src list) failed"; }
  dl=$(mktemp -d "$CACHE_DIR/download.XXXXXX")
  (cd "$dl" && apt-get "${opts[@]}" -q source redis) >>"$WORK/apt-src.log" 2>&1 ||
    { tail -n 20 "$WORK/apt-src.log" >&2; rm -rf "$dl"; die "apt-get source redis failed"; }
  dsc=$(find "$dl" -maxdepth 1 -name 'redis_*.dsc' | head -n 1)
  tree=$(find "$dl" -mindepth 1 -maxdepth 1 -type d -name 'redis-*' | head -n 1)
  [[ -n $dsc && -n $tree && -f $tree/tests/test_helper.tcl ]] ||
    { rm -rf "$dl"; die "downloaded source has no tests/test_helper.tcl"; }
  ver=$(awk '/^Version:/ { print $2; exit }' "$dsc")
  printf '%s\n' "$ver" >"$tree/.cartwheel-debian-version"
  rm -rf "${CACHE_DIR:?}/$(basename "$tree")"
  mv "$tree" "$CACHE_DIR/"
  rm -rf "$dl"
  echo "$CACHE_DIR/$(basename "$tree")"
}

cached_suite() { # newest complete cached tree, if any
  local d
  d=$(find "$CACHE_DIR" -mindepth 2 -maxdepth 2 -name .cartwheel-debian-version -printf '%h\n' \
      2>/dev/null | sort -V | tail -n 1)
  [[ -n $d && -f $d/tests/test_helper.tcl ]] && echo "$d"
}

# ------------------------------------------------------------------ skip list
# Lines: <unit> | <exact test name or /regexp> | <why>. The first field ends at
# the first '|', the reason starts after the last one, the test is in between.
check_skip_file() {
  local n=0 line bad=0
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ ! $line =~ ^[[:space:]]*[^|[:space:]][^|]*\|.*[^[:space:]].*\|[[:space:]]*[^|[:space:]][^|]*$ ]]; then
      log "$SKIP_FILE:$n: expected '<unit> | <test name or /regexp> | <why>' (the why is required): $line"
      bad=1
    fi
  done <"$SKIP_FILE"
  [[ $bad -eq 0 ]] || die "malformed skip list"
}

# Test names/patterns for UNIT, one per line (the suite's --skipfile format).
skip_entries_for() {
  awk -v unit="$1" '
    /^[ \t]*(#|$)/ { next }
    {
      first = index($0, "|"); last = first
      for (i = length($0); i > first; i--) if (substr($0, i, 1) == "|") { last = i; break }
      u = substr($0, 1, first - 1); t = substr($0, first + 1, last - first - 1)
      gsub(/^[ \t]+|[ \t]+$/, "", u); gsub(/^[ \t]+|[ \t]+$/, "", t)
      if (u == unit) print t
    }' "$SKIP_FILE"
}

# ---------------------------------------------------------------------- main
need_cmd tclsh tcl
check_skip_file
mkdir -p "$CACHE_DIR"

SUITE_DIR=''
if [[ $REFRESH -eq 0 ]]; then SUITE_DIR=$(cached_suite || true); fi
if [[ -z $SUITE_DIR ]]; then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: cannot fetch the Debian source package"
  need_cmd dpkg-source dpkg-dev
  SUITE_DIR=$(fetch_suite)
fi
log "Redis test suite: $SUITE_DIR (Debian redis $(cat "$SUITE_DIR/.cartwheel-debian-version"))"

for unit in "${UNIT_LIST[@]}"; do
  [[ -f $SUITE_DIR/tests/$unit.tcl ]] || die "no such unit: $unit (expected tests/$unit.tcl in $SUITE_DIR)"
done
while IFS= read -r unit; do
  [[ -f $SUITE_DIR/tests/$unit.tcl ]] || log "warning: $SKIP_FILE names unknown unit '$unit'"
done < <(sed -E '/^[[:space:]]*(#|$)/d; s/^[[:space:]]*([^|]*[^|[:space:]])[[:space:]]*\|.*/\1/' "$SKIP_FILE" | sort -u)

first_word=${SERVER_CMD%% *}
if [[ $first_word == */* && ! -x $REPO_ROOT/$first_word && ! -x $first_word ]]; then
  die "server binary '$first_word' not found (build it first, e.g. cargo build --release, or pass --server-cmd)"
fi
if [[ -z $KEEP_LOGS ]]; then
  KEEP_LOGS="$CACHE_DIR/logs"
  rm -rf "$KEEP_LOGS"
fi
mkdir -p "$KEEP_LOGS"

TAG_ARGS=()
for t in "${DENY_TAGS[@]}"; do TAG_ARGS+=(--tags "-$t"); done

total_pass=0 total_fail=0 total_skip=0 bad_units=0
suite_start=$SECONDS
printf '%-22s %-6s %7s %7s %8s %8s %6s\n' unit result passed failed skipped ignored time >&2

for unit in "${UNIT_LIST[@]}"; do
  slug=${unit//\//_}
  port=$(free_port)
  datadir="$WORK/data-$slug"
  mkdir -p "$datadir"
  out="$WORK/$slug.out"
  srvlog="$WORK/$slug.server.log"
  skipfile="$WORK/$slug.skip"
  skip_entries_for "$unit" >"$skipfile"
  notes=()
  unit_start=$SECONDS

  cmd=${SERVER_CMD//\{PORT\}/$port}
  cmd=${cmd//\{DIR\}/$datadir}
  bash -c 'cd "$1" && exec bash -c "exec $2"' _ "$REPO_ROOT" "$cmd" </dev/null >"$srvlog" 2>&1 &
  SERVER_PID=$!

  ready=0 died=0 suite_rc=0
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    if ! alive "$SERVER_PID"; then died=1; break; fi
    if ping_port "$port"; then ready=1; break; fi
    sleep 0.1
  done
  if [[ $ready -eq 1 ]] && ! alive "$SERVER_PID"; then ready=0 died=1; fi

  if [[ $ready -eq 1 ]]; then
    # The suite's own test server listens on a free port in
    # [baseport-32, baseport) (and probes port+10000); a random baseport per
    # unit keeps concurrent runs of this script from racing for one port.
    suite_baseport=$((10032 + 32 * (RANDOM % 250)))
    suite_args=(--host 127.0.0.1 --port "$port" --baseport "$suite_baseport" --singledb --ignore-encoding --ignore-digest
                "${TAG_ARGS[@]}" --clients 1 --timeout 120 --durable
                --skipfile "$skipfile" --single "$unit" "${EXTRA[@]}")
    # In the background + `wait`, so a signal to this script is handled at
    # once (bash defers traps while a foreground command runs). `timeout`
    # puts the suite (test server + test client tclsh) in its own process
    # group and forwards SIGTERM to it.
    (cd "$SUITE_DIR" && TERM=dumb exec timeout -k 10 "$UNIT_TIMEOUT" tclsh tests/test_helper.tcl \
      "${suite_args[@]}") </dev/null >"$out" 2>&1 &
    SUITE_PID=$!
    TAIL_PID=''
    if [[ $VERBOSE -eq 1 ]]; then tail -n +1 -f --pid="$SUITE_PID" "$out" >&2 & TAIL_PID=$!; fi
    set +e
    wait "$SUITE_PID"
    suite_rc=$?
    set -e
    SUITE_PID=''
    if [[ -n $TAIL_PID ]]; then wait "$TAIL_PID" || true; fi
    alive "$SERVER_PID" || died=1
  else
    : >"$out"
  fi
  stop_server "$SERVER_PID"
  SERVER_PID=''
  if [[ $ready -eq 0 && $died -eq 1 ]]; then notes+=("server exited during startup (exit status $SERVER_RC)"); fi
  if [[ $ready -eq 0 && $died -eq 0 ]]; then notes+=("server did not answer PING within ${START_TIMEOUT}s"); fi

  pass=$(grep -c '^\[ok\]:' "$out" || true)
  fail=$(grep -c '^\[err\]:' "$out" || true)
  exc=$(grep -c '^\[exception\]:' "$out" || true)
  skip=$(grep -c '^\[skip\]:' "$out" || true)
  ign=$(grep -c '^\[ignore\]:' "$out" || true)
  [[ $exc -eq 0 ]] || notes+=("$exc exception(s): the unit was aborted")
  if grep -q 'TIMEOUT\]' "$out"; then notes+=("suite timeout (no progress for 120s)"); fi
  [[ $suite_rc -ne 124 && $suite_rc -ne 137 ]] || notes+=("killed after ${UNIT_TIMEOUT}s wall clock")
  if [[ $died -eq 1 && $ready -eq 1 ]]; then notes+=("server died during the run (exit status $SERVER_RC)"); fi
  if [[ $ready -eq 1 ]] && ! grep -q '^\[[0-9]*/[0-9]* done\]:' "$out"; then notes+=("unit did not complete"); fi
  if [[ $ready -eq 1 && $suite_rc -ne 0 && $fail -eq 0 && ${#notes[@]} -eq 0 ]]; then
    notes+=("test_helper.tcl exited with status $suite_rc")
  fi
  # An aborted/crashed unit counts as (at least) one failure.
  unit_fail=$((fail + exc))
  if [[ ${#notes[@]} -gt 0 && $unit_fail -eq 0 ]]; then unit_fail=1; fi

  result=ok
  if [[ $unit_fail -gt 0 ]]; then result=FAIL; bad_units=$((bad_units + 1)); fi
  printf '%-22s %-6s %7d %7d %8d %8d %5ds\n' "$unit" "$result" "$pass" "$unit_fail" "$skip" "$ign" \
    $((SECONDS - unit_start)) >&2
  for n in "${notes[@]}"; do log "  $unit: $n"; done

  # Skip entries (exact names) the suite never reported as skipped: stale lines.
  while IFS= read -r name; do
    [[ -n $name && $name != /* ]] || continue
    grep -qxF "[skip]: $name" "$out" || log "  $unit: skip.txt entry matched no test: $name"
  done <"$skipfile"

  if [[ $result == FAIL && $VERBOSE -eq 0 ]]; then
    # The suite's closing list of failed tests (with details), any exception
    # report, and the server log tail if the server died.
    # (first lines of each entry; the full output is in the logs dir).
    awk '/The following tests failed:/ { inlist = 1; next }
         /^Cleanup: / { inlist = 0 }
         inlist && /^\*\*\* / { n = 3 }
         inlist && n > 0 && NF { print; n-- }
         /^\[exception\]:|TIMEOUT\]/ { e = 6 }
         e > 0 { print; e-- }' "$out" | sed 's/^/    /' >"$WORK/failures"
    head -n 60 "$WORK/failures" >&2
    if [[ $(wc -l <"$WORK/failures") -gt 60 ]]; then log "  ... (truncated; see $KEEP_LOGS/$slug.out)"; fi
    if [[ $died -eq 1 || $ready -eq 0 ]]; then
      log "  last lines of the server log:"; tail -n 20 "$srvlog" | sed 's/^/    /' >&2
    fi
  fi

  cp "$out" "$KEEP_LOGS/$slug.out"; cp "$srvlog" "$KEEP_LOGS/$slug.server.log"
  cp "$skipfile" "$KEEP_LOGS/$slug.skip"
  rm -rf "$datadir"
  total_pass=$((total_pass + pass))
  total_fail=$((total_fail + unit_fail))
  total_skip=$((total_skip + skip + ign))
done

log "${#UNIT_LIST[@]} unit(s) in $((SECONDS - suite_start))s; ${bad_units} unit(s) failed; logs: $KEEP_LOGS"
echo "redis-suite: $total_pass passed, $total_fail failed, $total_skip skipped"
[[ $bad_units -eq 0 ]] || exit 1
