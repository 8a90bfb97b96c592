#!/usr/bin/env bash
# Feedback throughput and latency with durability off, with --fsync=always (every write synced
# before it is acknowledged, concurrent writes sharing a sync) and with --fsync=periodic, side by
# side on the same machine: a Feedback-only closed loop against build/server/semrec-server.
#   load_tests/run_durability.sh                  # BUILD_DIR=build DURATION=10s CONCURRENCY=8
#   DATA_PARENT=/mnt/ssd load_tests/run_durability.sh   # where the data directories go
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-8}
source load_tests/server.sh

run() {  # name, server flags...
  local name=$1
  shift
  start_server --http_listen= "$@"
  "$load" --target="$address" --items_file=examples/catalog.jsonl --duration="$DURATION" \
    --warmup=1s --recommend=0 --query=0 --feedback=1 --mode=closed \
    --concurrency="$CONCURRENCY" --json_out="$work/$name.json" >/dev/null
  stop_server
}

run memory
run always --data_dir="$work/always" --fsync=always
run periodic --data_dir="$work/periodic" --fsync=periodic --fsync_interval=100ms

python3 - "$work" "$CONCURRENCY" <<'PY'
import json, sys
work, callers = sys.argv[1], sys.argv[2]
rows = [("in memory (no --data_dir)", "memory"), ("--fsync=always", "always"),
        ("--fsync=periodic (100ms)", "periodic")]
base = None
print(f"Feedback only, closed loop, {callers} callers")
print(f"{'durability':28} {'events/s':>9} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'p99.9 ms':>8} {'errors':>6}")
for label, name in rows:
    r = json.load(open(f"{work}/{name}.json"))["overall"]
    base = base or r["throughput_rps"]
    l = r["latency_ms"]
    print(f"{label:28} {r['throughput_rps']:9.0f} {r['throughput_rps'] / base:6.2f} "
          f"{l['p50']:7.2f} {l['p99']:7.2f} {l['p99.9']:8.2f} {r['errors_total']:6d}")
PY
