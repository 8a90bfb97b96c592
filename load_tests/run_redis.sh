#!/usr/bin/env bash
# Recommend and Feedback with the in-memory user store against the Redis user store (profiles in
# Redis, catalog writes and Feedback signals replicated through its stream), side by side on the
# same machine: a closed loop of user Recommend and Feedback (the same mix for both) against
# build/server/semrec-server, with a redis-server started on a free loopback port.
#   load_tests/run_redis.sh                  # BUILD_DIR=build DURATION=10s CONCURRENCY=8
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-8}
command -v redis-server >/dev/null || { echo "$0: redis-server is not installed" >&2; exit 1; }
source load_tests/server.sh

redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  --logfile "$work/redis.log" --daemonize yes --pidfile "$work/redis.pid"
trap 'kill "$(cat "$work/redis.pid")" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

run() {  # name, recommend share, feedback share, server flags...
  local name=$1 recommend=$2 feedback=$3
  shift 3
  start_server --http_listen= "$@"
  "$load" --target="$address" --items_file=examples/catalog.jsonl --duration="$DURATION" \
    --warmup=1s --recommend="$recommend" --query=0 --feedback="$feedback" --mode=closed \
    --concurrency="$CONCURRENCY" --json_out="$work/$name.json" >/dev/null
  stop_server
}

for mix in "recommend 1 0" "feedback 0 1"; do
  set -- $mix
  run "memory-$1" "$2" "$3"
  redis-cli -p "$redis_port" flushall >/dev/null
  run "redis-$1" "$2" "$3" --user_store="redis://127.0.0.1:$redis_port"
  redis-cli -p "$redis_port" flushall >/dev/null
done

python3 - "$work" "$CONCURRENCY" <<'PY'
import json, sys
work, callers = sys.argv[1], sys.argv[2]
print(f"closed loop, {callers} callers, user population Zipf-like (semrec-load defaults)")
print(f"{'RPC':10} {'user store':10} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'p99.9 ms':>8} {'errors':>6}")
for rpc in ("recommend", "feedback"):
    base = None
    for store in ("memory", "redis"):
        r = json.load(open(f"{work}/{store}-{rpc}.json"))["overall"]
        base = base or r["throughput_rps"]
        l = r["latency_ms"]
        print(f"{rpc:10} {store:10} {r['throughput_rps']:8.0f} {r['throughput_rps'] / base:6.2f} "
              f"{l['p50']:7.2f} {l['p99']:7.2f} {l['p99.9']:8.2f} {r['errors_total']:6d}")
PY
