#!/usr/bin/env bash
# scripts/bench.d/redisstore.sh: the store in Redis (troupe --store redis)
# beside the native store and beside Redis itself: redis-benchmark -t
# set,get -c 100 -P 1, RUNS runs each, against (1) redis-server alone
# (appendonly yes, appendfsync everysec), (2) troupe's RESP gateway over
# the native store (log writer, fsync everysec), (3) troupe's RESP gateway
# over the store in that same redis-server. Every server is pinned to core
# 0 (the store in Redis is troupe and redis-server sharing it), the client
# to core 1; the runs alternate. Prints table rows under scripts/bench's
# header: requests/s as "median (min-max)", and the CPU time the server
# side spent per request (user + system, from /proc: troupe and
# redis-server together for the store in Redis), which a busy machine
# disturbs less than the rate.
#
# usage: redisstore.sh BUILD_DIR SCALE RUNS   (needs redis-server, redis-benchmark)
set -euo pipefail

build="$1"
scale="$2"
runs="$3"
requests=$(awk -v s="$scale" 'BEGIN { n = int(200000 * s); print (n < 1000 ? 1000 : n) }')
tests=(set get)
kinds=(redis native inredis)

# shellcheck source=scripts/bench.d/lib.sh
. "$(dirname "$0")/lib.sh"
# start_inredis PORT DIR: troupe's gateway over the store in the
# redis-server started before it (lib.sh starts redis and native)
start_inredis() {
  taskset -c 0 "$build/troupe" --threads 1 --resp "127.0.0.1:$1" \
    --data-dir "$2" --store redis --redis "redis://127.0.0.1:$redis_port/1" \
    -e 'require("actor").receive()' 2>"$2.log" &
  server=$!
}

# CPU ticks (user + system) the processes given have used so far.
ticks() {
  local p t=0
  for p in "$@"; do
    t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  echo "$t"
}
hz=$(getconf CLK_TCK)

declare -A result # kind,test -> newline-separated rates
declare -A cpu    # kind,test -> newline-separated us of CPU per request
start_servers "${kinds[@]}" # redis first: the store in Redis uses it
pids[inredis]+=" ${pids[redis]}"
for ((r = 0; r < runs; r++)); do
  order=("${kinds[@]}")
  ((r % 2 == 0)) || order=(inredis native redis)
  for test in "${tests[@]}"; do
    for kind in "${order[@]}"; do
      # shellcheck disable=SC2086 # the pids are words
      before=$(ticks ${pids[$kind]})
      rate=$(one_run "${ports[$kind]}" "$test" 100 1)
      # shellcheck disable=SC2086
      after=$(ticks ${pids[$kind]})
      cpu[$kind,$test]+=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" \
        'BEGIN { print t / hz / n * 1e6 }')$'\n'

      if [[ -z "$rate" ]]; then
        echo "scripts/bench: redis-benchmark $test -c 100 against $kind failed" >&2
        exit 1
      fi
      result[$kind,$test]+="$rate"$'\n'
    done
  done
done
stop_servers

declare -A label=(
  [redis]="redis-server itself (AOF everysec)"
  [native]="troupe gateway, native store (log, everysec)"
  [inredis]="troupe gateway, store in Redis"
)
declare -A cpu_label=(
  [redis]="redis-server itself"
  [native]="troupe, native store"
  [inredis]="troupe + redis-server, store in Redis"
)
declare -A note=([redis]=" peer ")
for test in "${tests[@]}"; do
  for kind in "${kinds[@]}"; do
    printf '| store %s -c 100, %s | %s | req/s |%s|\n' "$test" "${label[$kind]}" \
      "$(printf '%s' "${result[$kind,$test]}" | stats_text)" "${note[$kind]:- }"
  done
done
for test in "${tests[@]}"; do
  for kind in "${kinds[@]}"; do
    printf '| store %s -c 100, server CPU per request, %s | %s | us | |\n' "$test" \
      "${cpu_label[$kind]}" "$(printf '%s' "${cpu[$kind,$test]}" | us_text)"
  done
done
