# scripts/bench.d/lib.sh: what the RESP benches (resp.sh, redisstore.sh)
# share, sourced by them after `set -euo pipefail`: a work directory
# removed on exit with the servers still running, the servers started
# pinned to core 0 and waited for, one redis-benchmark run pinned to core
# 1, and the figures' texts. Expects $build (the build directory) and
# $requests (per run) set; sets ports, pids and redis_port for its caller.
# shellcheck shell=bash disable=SC2034,SC2154

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

redis_port="" # the redis-server started last
# start_<kind> PORT DIR: starts the server pinned to core 0, in $server.
start_redis() {
  taskset -c 0 redis-server --port "$1" --bind 127.0.0.1 --dir "$2" \
    --appendonly yes --appendfsync everysec --save '' --daemonize no \
    --logfile "$2/redis.log" &
  server=$!
  redis_port=$1
}
# troupe's RESP gateway over the native store (log writer, fsync everysec)
start_native() {
  taskset -c 0 "$build/troupe" --threads 1 --resp "127.0.0.1:$1" \
    --data-dir "$2" --fsync everysec -e 'require("actor").receive()' \
    2>"$2.log" &
  server=$!
}

declare -A ports # kind -> its port
declare -A pids  # kind -> its pid
# Starts each kind given (start_<kind>) in $work/<kind>, one after the
# other, and waits until it answers; exits when one does not.
start_servers() {
  local kind port dir
  for kind in "$@"; do
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
}

# The requests/s of one redis-benchmark run of $requests requests: test
# $2 against port $1, $3 clients, pipeline $4.
one_run() {
  taskset -c 1 redis-benchmark -p "$1" -t "$2" -n "$requests" -c "$3" -P "$4" \
    --csv 2>/dev/null | awk -F'"' 'NR > 1 && $2 != "" { print $4; exit }'
}

# "median (min-max)" of numbers on stdin, as k or M.
stats_text() {
  sort -g | awk '
    function t(r) { return r >= 1e6 ? sprintf("%.2f M", r / 1e6) : sprintf("%.1f k", r / 1e3) }
    { v[NR] = $1 }
    END { printf "%s (%s-%s)\n", t(v[int((NR + 1) / 2)]), t(v[1]), t(v[NR]) }'
}
# "median (min-max)" of numbers on stdin, in us.
us_text() {
  sort -g | awk '{ v[NR] = $1 } END { printf "%.2f (%.2f-%.2f)\n", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
