#!/usr/bin/env bash
# scripts/bench.d/resp.sh: troupe's RESP gateway beside redis-server, both
# persisting (troupe's log writer, fsync everysec; redis-server with
# appendonly yes, appendfsync everysec), both pinned to core 0, their runs
# alternating, driven by redis-benchmark pinned to core 1: -t set,get,incr,
# -c 50, at -P 1 and -P 16, RUNS runs each. Prints table rows under scripts/bench's
# header: each server's requests/s as "median (min-max)", and troupe's
# median over redis-server's.
#
# usage: resp.sh BUILD_DIR SCALE RUNS   (needs redis-server, redis-benchmark)
set -euo pipefail

build="$1"
scale="$2"
runs="$3"
requests=$(awk -v s="$scale" 'BEGIN { n = int(1000000 * s); print (n < 1000 ? 1000 : n) }')
tests=(set get incr)
pipes=(1 16)

work=$(mktemp -d)
server=""  # the server started last
running="" # the servers' pids
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

# start_<kind> PORT DIR: starts the server pinned to core 0, in $server.
start_redis() {
  taskset -c 0 redis-server --port "$1" --bind 127.0.0.1 --dir "$2" \
    --appendonly yes --appendfsync everysec --save '' --daemonize no \
    --logfile "$2/redis.log" &
  server=$!
}
start_troupe() {
  taskset -c 0 "$build/troupe" --threads 1 --resp "127.0.0.1:$1" \
    --data-dir "$2" --fsync everysec -e 'require("actor").receive()' \
    2>"$2.log" &
  server=$!
}

# The requests/s of one redis-benchmark run: test $2, pipeline $3, port $1.
one_run() {
  taskset -c 1 redis-benchmark -p "$1" -t "$2" -n "$requests" -c 50 -P "$3" \
    --csv 2>/dev/null | awk -F'"' 'NR > 1 && $2 != "" { print $4; exit }'
}

# "median (min-max)" of numbers on stdin, as k or M.
stats_text() {
  sort -g | awk '
    function t(r) { return r >= 1e6 ? sprintf("%.2f M", r / 1e6) : sprintf("%.1f k", r / 1e3) }
    { v[NR] = $1 }
    END { printf "%s (%s-%s)\n", t(v[int((NR + 1) / 2)]), t(v[1]), t(v[NR]) }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Both servers run side by side (the idle one costs nothing) and their
# runs alternate, the first of each pair swapped run to run, so a machine
# that gets busier or quieter meanwhile weighs on both alike.
declare -A result # kind,test,pipe -> newline-separated rates
declare -A ports
for kind in redis troupe; do
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
done
for ((r = 0; r < runs; r++)); do
  order=(redis troupe)
  ((r % 2 == 0)) || order=(troupe redis)
  for pipe in "${pipes[@]}"; do
    for test in "${tests[@]}"; do
      for kind in "${order[@]}"; do
        rate=$(one_run "${ports[$kind]}" "$test" "$pipe")
        if [[ -z "$rate" ]]; then
          echo "scripts/bench: redis-benchmark $test -P $pipe against $kind failed" >&2
          exit 1
        fi
        result[$kind,$test,$pipe]+="$rate"$'\n'
      done
    done
  done
done
stop_servers

for pipe in "${pipes[@]}"; do
  for test in "${tests[@]}"; do
    name="resp $test -c 50 -P $pipe"
    redis_med=$(printf '%s' "${result[redis,$test,$pipe]}" | median)
    troupe_med=$(printf '%s' "${result[troupe,$test,$pipe]}" | median)
    printf '| %s, redis-server (AOF everysec) | %s | req/s | peer |\n' "$name" \
      "$(printf '%s' "${result[redis,$test,$pipe]}" | stats_text)"
    printf '| %s, troupe gateway (log, everysec) | %s | req/s | >= redis-server |\n' "$name" \
      "$(printf '%s' "${result[troupe,$test,$pipe]}" | stats_text)"
    printf '| %s, troupe / redis-server | %s | x | >= 1.0 |\n' "$name" \
      "$(awk -v a="$troupe_med" -v b="$redis_med" 'BEGIN { printf "%.2f", a / b }')"
  done
done
