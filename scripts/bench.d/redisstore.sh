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

work=$(mktemp -d)
server=""
running=""
cleanup() {
  stop_servers
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (10 s at most) until the server on port $1 answers PING.
wait_ready() {
  local i
  for ((i = 0; i < 200; i++)); do
    if [[ "$(redis-cli -p "$1" ping 2>/dev/null)" == PONG ]]; then return 0; fi
    if ! kill -0 "$server" 2>/dev/null; then return 1; fi
    sleep 0.05
  done
  return 1
}

stop_servers() {
  local p
  for p in $running; do kill "$p" 2>/dev/null || true; done
  for p in $running; do wait "$p" 2>/dev/null || true; done
  running=""
}

redis_port=""
# start_<kind> PORT DIR: starts the server pinned to core 0, in $server.
start_redis() {
  taskset -c 0 redis-server --port "$1" --bind 127.0.0.1 --dir "$2" \
    --appendonly yes --appendfsync everysec --save '' --daemonize no \
    --logfile "$2/redis.log" &
  server=$!
  redis_port=$1
}
start_native() {
  taskset -c 0 "$build/troupe" --threads 1 --resp "127.0.0.1:$1" \
    --data-dir "$2" --fsync everysec -e 'require("actor").receive()' \
    2>"$2.log" &
  server=$!
}
start_inredis() {
  taskset -c 0 "$build/troupe" --threads 1 --resp "127.0.0.1:$1" \
    --data-dir "$2" --store redis --redis "redis://127.0.0.1:$redis_port/1" \
    -e 'require("actor").receive()' 2>"$2.log" &
  server=$!
}

# The requests/s of one redis-benchmark run: test $2 against port $1.
one_run() {
  taskset -c 1 redis-benchmark -p "$1" -t "$2" -n "$requests" -c 100 -P 1 \
    --csv 2>/dev/null | awk -F'"' 'NR > 1 && $2 != "" { print $4; exit }'
}

# "median (min-max)" of numbers on stdin, as k or M.
stats_text() {
  sort -g | awk '
    function t(r) { return r >= 1e6 ? sprintf("%.2f M", r / 1e6) : sprintf("%.1f k", r / 1e3) }
    { v[NR] = $1 }
    END { printf "%s (%s-%s)\n", t(v[int((NR + 1) / 2)]), t(v[1]), t(v[NR]) }'
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
declare -A pids   # kind -> the server side's pids
declare -A ports
for kind in "${kinds[@]}"; do # redis first: the store in Redis uses it
  port=$(free_port)
  dir="$work/$kind"
  mkdir -p "$dir"
  "start_$kind" "$port" "$dir"
  running+=" $server"
  if ! wait_ready "$port"; then
    echo "scripts/bench: $kind did not start on port $port" >&2
    [[ -f "$dir.log" ]] && cat "$dir.log" >&2
    exit 1
  fi
  ports[$kind]=$port
  pids[$kind]=$server
done
pids[inredis]+=" ${pids[redis]}"
for ((r = 0; r < runs; r++)); do
  order=("${kinds[@]}")
  ((r % 2 == 0)) || order=(inredis native redis)
  for test in "${tests[@]}"; do
    for kind in "${order[@]}"; do
      # shellcheck disable=SC2086 # the pids are words
      before=$(ticks ${pids[$kind]})
      rate=$(one_run "${ports[$kind]}" "$test")
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

# "median (min-max)" of numbers on stdin, in us.
us_text() {
  sort -g | awk '{ v[NR] = $1 } END { printf "%.2f (%.2f-%.2f)\n", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

for test in "${tests[@]}"; do
  name="store $test -c 100"
  printf '| %s, redis-server itself (AOF everysec) | %s | req/s | peer |\n' "$name" \
    "$(printf '%s' "${result[redis,$test]}" | stats_text)"
  printf '| %s, troupe gateway, native store (log, everysec) | %s | req/s | |\n' "$name" \
    "$(printf '%s' "${result[native,$test]}" | stats_text)"
  printf '| %s, troupe gateway, store in Redis | %s | req/s | |\n' "$name" \
    "$(printf '%s' "${result[inredis,$test]}" | stats_text)"
done
for test in "${tests[@]}"; do
  name="store $test -c 100, server CPU per request"
  printf '| %s, redis-server itself | %s | us | |\n' "$name" \
    "$(printf '%s' "${cpu[redis,$test]}" | us_text)"
  printf '| %s, troupe, native store | %s | us | |\n' "$name" \
    "$(printf '%s' "${cpu[native,$test]}" | us_text)"
  printf '| %s, troupe + redis-server, store in Redis | %s | us | |\n' "$name" \
    "$(printf '%s' "${cpu[inredis,$test]}" | us_text)"
done
