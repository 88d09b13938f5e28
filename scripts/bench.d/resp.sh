#!/usr/bin/env bash
# scripts/bench.d/resp.sh: troupe's RESP gateway beside redis-server, both
# persisting (troupe's log writer, fsync everysec; redis-server with
# appendonly yes, appendfsync everysec), both pinned to core 0, their runs
# alternating, driven by redis-benchmark pinned to core 1 (lib.sh starts
# and drives them): -t set,get,incr, -c 50, at -P 1 and -P 16, RUNS runs
# each. Prints table rows under scripts/bench's header: each server's
# requests/s as "median (min-max)", and troupe's median over
# redis-server's.
#
# usage: resp.sh BUILD_DIR SCALE RUNS   (needs redis-server, redis-benchmark)
set -euo pipefail

build="$1"
scale="$2"
runs="$3"
requests=$(awk -v s="$scale" 'BEGIN { n = int(1000000 * s); print (n < 1000 ? 1000 : n) }')
tests=(set get incr)
pipes=(1 16)

# shellcheck source=scripts/bench.d/lib.sh
. "$(dirname "$0")/lib.sh"
start_troupe() { start_native "$@"; }

# Both servers run side by side (the idle one costs nothing) and their
# runs alternate, the first of each pair swapped run to run, so a machine
# that gets busier or quieter meanwhile weighs on both alike.
declare -A result # kind,test,pipe -> newline-separated rates
start_servers redis troupe
for ((r = 0; r < runs; r++)); do
  order=(redis troupe)
  ((r % 2 == 0)) || order=(troupe redis)
  for pipe in "${pipes[@]}"; do
    for test in "${tests[@]}"; do
      for kind in "${order[@]}"; do
        rate=$(one_run "${ports[$kind]}" "$test" 50 "$pipe")
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
