#!/usr/bin/env bash
# scripts/bench.d/cluster.sh: troupe's cluster over NATS beside Erlang
# distribution, two nodes each on this machine (loopback), in one run.
# troupe: a nats-server -js on a free port (its store in a temporary
# directory) and two `troupe --threads 1` nodes, bench/cluster/server.lua
# and bench/cluster/client.lua; Erlang: two `erl -sname` nodes running
# bench/erlang/dist.erl (skipped with a note without erl). Nothing is
# pinned: three processes (two with NATS) share the cores. Prints table
# rows under scripts/bench's header, each "median (min-max)" of RUNS runs
# by the wall clock: cross-node one-way msgs/s (in windows of 1000 closed
# by a call, see client.lua), call round trips/s in a row and with 64 in
# flight, and troupe's median over Erlang's.
#
# usage: cluster.sh BUILD_DIR SCALE RUNS   (needs nats-server)
set -euo pipefail

build="$1"
scale="$2"
runs="$3"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
nats=$(command -v nats-server || echo /usr/sbin/nats-server)

work=$(mktemp -d)
pids=""
cleanup() {
  local p
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$nats" -js -a 127.0.0.1 -p "$port" -sd "$work/store" -l "$work/nats.log" &
pids+=" $!"
for ((i = 0; i < 500; i++)); do
  grep -q "Server is ready" "$work/nats.log" 2>/dev/null && break
  sleep 0.02
done
if ! grep -q "Server is ready" "$work/nats.log" 2>/dev/null; then
  echo "scripts/bench: nats-server did not start" >&2
  exit 1
fi
url="nats://127.0.0.1:$port"

# "median (min-max)" of the rates on stdin, as k or M.
stats_text() {
  sort -g | awk '
    function t(r) { return r >= 1e6 ? sprintf("%.2f M", r / 1e6) : sprintf("%.1f k", r / 1e3) }
    { v[NR] = $1 }
    END { printf "%s (%s-%s)\n", t(v[int((NR + 1) / 2)]), t(v[1]), t(v[NR]) }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# The rates (N / seconds) of the lines named $1 in file $2.
rates() { awk -v k="$1" '$1 == k { printf "%.1f\n", $3 / $2 }' "$2"; }

# troupe: the server node first (it registers the names the client waits for)
"$build/troupe" --threads 1 --cluster "$url" --node server --cluster-name bench \
  "$root/bench/cluster/server.lua" >"$work/server.out" 2>"$work/server.log" &
pids+=" $!"
if ! "$build/troupe" --threads 1 --cluster "$url" --node client --cluster-name bench \
  "$root/bench/cluster/client.lua" "$scale" "$runs" >"$work/troupe.out" 2>"$work/client.log"; then
  echo "scripts/bench: the troupe cluster bench failed" >&2
  cat "$work/client.log" "$work/server.log" >&2
  exit 1
fi

erlang=0
if command -v erl >/dev/null 2>&1 && command -v erlc >/dev/null 2>&1; then
  ebin="$build/erlang"
  mkdir -p "$ebin"
  erlc -Werror -o "$ebin" "$root/bench/erlang/dist.erl"
  host=$(hostname -s)
  srv="trbench_srv_$$"
  # erl -sname starts epmd when none runs; one started here is stopped after
  epmd_was=0
  epmd -names >/dev/null 2>&1 && epmd_was=1
  ERL_CRASH_DUMP_SECONDS=0 erl -sname "$srv" -noshell -pa "$ebin" -run dist server \
    >"$work/erl_server.out" 2>&1 &
  pids+=" $!"
  if ERL_CRASH_DUMP_SECONDS=0 erl -sname "trbench_cli_$$" -noshell -pa "$ebin" \
    -run dist client "$srv@$host" "$scale" "$runs" >"$work/erlang.out" 2>&1; then
    erlang=1
  else
    echo "scripts/bench: the Erlang distribution bench failed:" >&2
    cat "$work/erlang.out" >&2
  fi
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do wait "$p" 2>/dev/null || true; done
  pids=""
  ((epmd_was)) || epmd -kill >/dev/null 2>&1 || true
else
  echo "scripts/bench: no erl: the Erlang distribution rows are skipped" \
    "(scripts/setup --bench installs erlang-base)" >&2
fi

row() { printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4"; }
for kind in oneway call call64; do
  case $kind in
    oneway) name="cluster one-way, cross-node" unit="msgs/s" target=">= 500 k" ;;
    call) name="cluster call round trip, cross-node, one at a time" unit="calls/s" target="-" ;;
    call64) name="cluster call round trip, cross-node, 64 in flight" unit="calls/s" target=">= Erlang" ;;
  esac
  row "$name, troupe over NATS" "$(rates $kind "$work/troupe.out" | stats_text)" "$unit" "$target"
  if ((erlang)); then
    row "$name, Erlang distribution" "$(rates $kind "$work/erlang.out" | stats_text)" "$unit" "peer"
    t=$(rates $kind "$work/troupe.out" | median)
    e=$(rates $kind "$work/erlang.out" | median)
    row "$name, troupe / Erlang" "$(awk -v a="$t" -v b="$e" 'BEGIN { printf "%.2f", a / b }')" "x" \
      "$([[ $kind == call64 ]] && echo ">= 1.0" || echo "-")"
  fi
done
