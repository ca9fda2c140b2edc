#!/usr/bin/env bash
# CI test of the container image and the three-node compose cluster (Dockerfile,
# docker-compose.yml). Called by scripts/test.sh; runs alone too: scripts/docker-test.sh
#
#   1. builds the image from the host-built binary (scripts/docker-build.sh: no image pull) and
#      checks its user, volume, ports, health check; prints its size
#   2. `compose up`: three nodes healthy within 60 s (prints the time), one cluster of three
#   3. writes through node1, reads through node2 and node3 (redis-cli on the published ports)
#   4. `docker stop` node3 (SIGTERM: exit code 0, graceful), keeps writing at W=2 through node1
#   5. `docker start` node3: healthy and a member again, its data survived in its volume
#   6. `docker network disconnect` node2, writes through node1, reconnect it (same address)
#   7. every key written readable with its value through every node
#   8. `compose stop`: every node exits 0 after a graceful shutdown; then everything is removed
# Every wait is bounded; the compose project (containers, network, volumes) and the image are
# removed on exit, also on failure (after printing the nodes' logs).
# If no Docker engine answers, it prints a loud SKIPPED banner and exits 0; anything else
# missing (compose, redis-cli) is a failure.
#
# Environment: DOCKER_TEST_KEEP_IMAGE=1 keeps the image (tag printed); DOCKER_TEST_IMAGE=TAG
# tests that existing image instead of building one (e.g. `docker build -t cartwheel:src .`,
# the from-source way) and leaves it in place.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "docker-test: $*"; }
fail() {
  echo "docker-test: FAIL: $*" >&2
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if ! timeout 30 docker info >/dev/null 2>&1; then
  echo "#####################################################################################"
  echo "## docker-test: SKIPPED — no Docker engine answers (docker info failed).            ##"
  echo "## The container image and the compose cluster were NOT built or tested.          ##"
  echo "#####################################################################################"
  exit 0
fi
if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose_cmd=(docker-compose)
else
  fail "a Docker engine answers but neither 'docker compose' nor 'docker-compose' exists"
fi
command -v redis-cli >/dev/null 2>&1 || fail "redis-cli not found (apt-get install redis-tools)"

# A project, subnet and ports of our own (several runs on one host do not collide).
slot=$(($$ % 40))
project="cwtest$$"
image=${DOCKER_TEST_IMAGE:-"cartwheel:ci-$project"}
export CARTWHEEL_IMAGE=$image
export CARTWHEEL_NET="172.28.$((100 + slot))"
export CARTWHEEL_CLUSTER_SECRET
CARTWHEEL_CLUSTER_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
ports=()
for i in 1 2 3; do
  ports[i]=$((27100 + 3 * slot + i))
  export "CARTWHEEL_NODE${i}_PORT=${ports[i]}"
done
compose() { "${compose_cmd[@]}" -p "$project" -f docker-compose.yml "$@"; }

cleanup() {
  local rc=$?
  set +e
  if [ "$rc" -ne 0 ]; then
    say "failed; state and logs of the nodes:"
    compose ps
    compose logs --no-color --tail=40
  fi
  compose down -v --remove-orphans -t 10 >/dev/null 2>&1
  if [ "${DOCKER_TEST_KEEP_IMAGE:-0}" != 1 ] && [ -z "${DOCKER_TEST_IMAGE:-}" ]; then
    docker image rm "$image" >/dev/null 2>&1
  fi
  rm -rf docker/prebuilt
  say "removed project $project (image $image $(docker image inspect "$image" >/dev/null 2>&1 && echo kept || echo removed))"
  exit "$rc"
}
trap cleanup EXIT

# wait_until SECONDS DESCRIPTION COMMAND…: polls COMMAND every 0.2 s until it succeeds.
wait_until() {
  local limit=$1 what=$2 start
  shift 2
  start=$(now)
  until "$@"; do
    if awk -v a="$start" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
      fail "$what: not within ${limit}s"
    fi
    sleep 0.2
  done
}

cli() { # cli NODE ARGS…: one command through node NODE's published port, bounded
  local n=$1
  shift
  timeout 10 redis-cli -h 127.0.0.1 -p "${ports[n]}" "$@" 2>&1
}
health() { docker inspect -f '{{.State.Health.Status}}' "${cid[$1]}"; }
all_healthy() { [ "$(health 1)$(health 2)$(health 3)" = healthyhealthyhealthy ]; }
members_up() { cli "$1" info cluster | tr -d '\r' | grep -q "^cluster_members_up:$2\$"; }
everyone_sees_three() { members_up 1 3 && members_up 2 3 && members_up 3 3; }
member_status() { # member_status VIEWER IP → status of the member with that address
  cli "$1" info cluster | tr -d '\r' | grep "addr=$2:" | sed 's/.*status=\([a-z]*\).*/\1/'
}
# Conditions for wait_until (evaluated on every poll, unlike a "$(…)" in its arguments).
status_is() { [ "$(member_status "$1" "$2")" = "$3" ]; }
health_is() { [ "$(health "$1")" = "$2" ]; }
answers() { [ "$(cli "$1" ping)" = PONG ]; }

# write_batch NODE PREFIX COUNT WINDOW: SET PREFIX1..COUNT through NODE, each retried until OK
# within WINDOW seconds of the batch's start. Prints the failed attempts, the slowest reply and
# how long the batch took.
write_batch() {
  local n=$1 prefix=$2 count=$3 window=$4 start i t took reply errors=0 first_error="" slowest=0
  start=$(now)
  for ((i = 1; i <= count; i++)); do
    while :; do
      t=$(now)
      reply=$(cli "$n" set "$prefix$i" "value-$prefix$i") || true
      took=$(since "$t")
      slowest=$(awk -v a="$slowest" -v b="$took" 'BEGIN { printf "%.1f", (b > a ? b : a) }')
      [ "$reply" = OK ] && break
      errors=$((errors + 1))
      [ -n "$first_error" ] || first_error="$prefix$i: $reply (after $(since "$start")s)"
      if awk -v a="$start" -v b="$(now)" -v l="$window" 'BEGIN { exit !(b - a > l) }'; then
        fail "SET $prefix$i through node$n still failing after ${window}s: $reply"
      fi
      sleep 0.2
    done
  done
  say "  $count writes through node$n acknowledged in $(since "$start")s (slowest ${slowest}s), $errors failed attempts${first_error:+ (first: $first_error)}"
}

# check_batch NODE PREFIX COUNT: GET every key in one pipeline, compare every value.
check_batch() {
  local n=$1 prefix=$2 count=$3 got want
  got=$(for ((i = 1; i <= count; i++)); do echo "GET $prefix$i"; done | timeout 30 redis-cli -h 127.0.0.1 -p "${ports[n]}" 2>&1)
  want=$(for ((i = 1; i <= count; i++)); do echo "value-$prefix$i"; done)
  if [ "$got" != "$want" ]; then
    diff <(echo "$want") <(echo "$got") | head -5 >&2
    fail "node$n does not return the $count values of batch $prefix"
  fi
}

stopped_cleanly() { # stopped_cleanly NODE: exit code 0 and the graceful-stop log line
  local code
  code=$(docker inspect -f '{{.State.ExitCode}}' "${cid[$1]}")
  [ "$code" = 0 ] || fail "node$1 exited with code $code"
  docker logs "${cid[$1]}" 2>&1 | grep -E "Cartwheel node (ready|stopped)" | tail -1 | grep -q stopped ||
    fail "node$1's log has no 'Cartwheel node stopped' after its last start"
}

say "using ${compose_cmd[*]}, project $project, network $CARTWHEEL_NET.0/24, ports ${ports[*]}"

if [ -n "${DOCKER_TEST_IMAGE:-}" ]; then
  echo "== docker-test: testing the existing image $image (DOCKER_TEST_IMAGE)"
  docker image inspect "$image" >/dev/null || fail "no image $image"
else
  echo "== docker-test: build the image"
  scripts/docker-build.sh "$image"
fi
size=$(docker image inspect -f '{{.Size}}' "$image")
config=$(docker image inspect -f '{{.Config.User}}|{{json .Config.Volumes}}|{{json .Config.ExposedPorts}}|{{json .Config.Healthcheck.Test}}|{{json .Config.Entrypoint}}' "$image")
say "image config: $config"
[ "${config%%|*}" = "10001:10001" ] || fail "image user is not 10001:10001"
case $config in
  *'"/data":{}'*'"16379/tcp":{}'*'"6379/tcp":{}'*'"ping"'*) ;;
  *) fail "image lacks the /data volume, the 6379/16379 ports or the ping health check" ;;
esac

echo "== docker-test: compose up (three nodes)"
up_start=$(now)
compose up -d
cid=()
for i in 1 2 3; do
  cid[i]=$(compose ps -q "node$i")
  [ -n "${cid[i]}" ] || fail "no container for node$i"
done
wait_until 60 "three healthy containers" all_healthy
healthy_after=$(since "$up_start")
say "  three containers healthy ${healthy_after}s after 'up'"
wait_until 30 "every node sees three members up" everyone_sees_three
say "  one cluster of three $(since "$up_start")s after 'up'"
uid=$(docker top "${cid[1]}" -o pid,uid | awk 'NR == 2 { print $2 }')
[ "$uid" = 10001 ] || fail "node1 runs as uid '$uid', not 10001"
# Name resolution inside the FROM-scratch image (glibc, nsswitch.conf, Docker's DNS).
docker exec "${cid[2]}" /usr/local/bin/cartwheel ping --host node1 >/dev/null ||
  fail "node2 cannot reach node1 by its service name"
say "  runs as uid 10001; 'cartwheel ping --host node1' from node2 answers"

echo "== docker-test: write through node1, read through node2 and node3"
write_batch 1 a: 30 10
check_batch 2 a: 30
check_batch 3 a: 30
wq=$(cli 1 info cartwheel | tr -d '\r' | grep '^write_quorum:')
[ "$wq" = write_quorum:2 ] || fail "node1 reports $wq, expected W=2"
say "  30 keys written (W=2) and read back through the other two nodes"

echo "== docker-test: docker stop node3, keep writing at W=2"
t=$(now)
docker stop -t 20 "${cid[3]}" >/dev/null
say "  node3 stopped in $(since "$t")s"
stopped_cleanly 3
write_batch 1 b: 40 30
wait_until 30 "node1 reports node3 down" status_is 1 "$CARTWHEEL_NET.13" down
say "  node1 reports node3 down $(since "$t")s after the stop"
check_batch 2 b: 40

echo "== docker-test: docker start node3"
t=$(now)
docker start "${cid[3]}" >/dev/null
wait_until 60 "node3 healthy again" health_is 3 healthy
wait_until 30 "every node sees three members up after the restart" everyone_sees_three
say "  node3 healthy and a member again after $(since "$t")s"
gen=$(cli 1 info cluster | tr -d '\r' | grep "addr=$CARTWHEEL_NET.13:" | sed 's/.*generation=\([0-9]*\).*/\1/')
[ "$gen" = 2 ] || fail "node3's generation is '$gen', expected 2 (its volume keeps node.generation)"
check_batch 3 a: 30
check_batch 3 b: 40
say "  node3 kept its identity (generation 2 from its volume) and serves batches a and b"

echo "== docker-test: docker network disconnect node2, write, reconnect"
net=$(docker inspect -f '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}' "${cid[2]}")
t=$(now)
docker network disconnect "$net" "${cid[2]}"
write_batch 1 c: 40 30
wait_until 30 "node1 reports node2 down" status_is 1 "$CARTWHEEL_NET.12" down
say "  node1 reports node2 down $(since "$t")s after the disconnect; node2's own health check: $(health 2)"
check_batch 3 c: 40
t=$(now)
docker network connect --ip "$CARTWHEEL_NET.12" "$net" "${cid[2]}"
wait_until 30 "node2's published port answers after the reconnect" answers 2
wait_until 30 "every node sees three members up after the reconnect" everyone_sees_three
say "  node2 reachable and a member again $(since "$t")s after the reconnect"

echo "== docker-test: every key through every node"
for n in 1 2 3; do
  for batch in "a: 30" "b: 40" "c: 40"; do
    # shellcheck disable=SC2086 # "prefix count"
    check_batch "$n" $batch
  done
done
say "  110 keys correct through node1, node2 and node3"

echo "== docker-test: compose stop (SIGTERM)"
t=$(now)
compose stop -t 20
for n in 1 2 3; do stopped_cleanly "$n"; done
say "  all three stopped gracefully (exit 0) in $(since "$t")s"

echo "docker-test: PASS — image $((size / 1024 / 1024)) MiB ($size bytes), three nodes healthy ${healthy_after}s after 'up'"
