#!/usr/bin/env bash
# The standard load scenario: starts build/server/semrec-server on a free port with the demo
# encoder and catalog, runs a closed loop (concurrency 4, mixed RPCs) and then an open loop at
# half the closed-loop throughput, prints both tables and stops the server with SIGTERM, which
# must exit 0. Fails on any setup error or when more than 1% of the requests failed.
#   load_tests/run_standard.sh                      # BUILD_DIR=build DURATION=10s WARMUP=1s
#   BUILD_DIR=build-release DURATION=30s load_tests/run_standard.sh
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
source load_tests/server.sh
# SERVER_FLAGS adds flags.
start_server ${SERVER_FLAGS:-}

# Prints the overall throughput of a --json_out file; fails when more than 1% of requests failed.
overall() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["overall"]
if r["count"] == 0 or r["errors_total"] > 0.01 * r["count"]:
    sys.exit(f"run_standard.sh: {r['errors_total']} of {r['count']} requests failed: {r['errors']}")
print(f"{r['throughput_rps']:.1f}")
PY
}

common=(--target="$address" --items_file=examples/catalog.jsonl --duration="$DURATION"
        --warmup="$WARMUP" --recommend=0.7 --feedback=0.2 --query=0.1)
"$load" "${common[@]}" --mode=closed --concurrency=4 --seed_feedback=1000 \
  --json_out="$work/closed.json"
closed_rps=$(overall "$work/closed.json")
open_rate=$(python3 -c "print(max(1.0, round($closed_rps / 2, 1)))")
"$load" "${common[@]}" --mode=open --rate="$open_rate" --concurrency=4 \
  --json_out="$work/open.json"
overall "$work/open.json" >/dev/null

stop_server
echo "server stopped cleanly (exit 0)"
