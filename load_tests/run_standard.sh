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
server=$BUILD_DIR/server/semrec-server
load=$BUILD_DIR/load_tests/semrec-load
for f in "$server" "$load" "$BUILD_DIR/testdata/encoder/manifest.json"; do
  [[ -e $f ]] || { echo "run_standard.sh: $f is missing: build semrec-server semrec-load demo_encoder" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Port 0: the server picks a free port and prints it once it is SERVING. SERVER_FLAGS adds flags.
"$server" --model_dir="$BUILD_DIR/testdata/encoder" --catalog_file=examples/catalog.jsonl \
  --listen=127.0.0.1:0 --log_level=warn ${SERVER_FLAGS:-} >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
address=
for _ in $(seq 300); do
  address=$(sed -n 's/^semrec-server listening on //p' "$work/server.out")
  [[ -n $address ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run_standard.sh: the server exited during start-up:" >&2
    cat "$work/server.err" >&2
    exit 1
  fi
  sleep 0.1
done
[[ -n $address ]] || { echo "run_standard.sh: the server was not ready after 30 s" >&2; exit 1; }

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

kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=
if [[ $rc -ne 0 ]]; then
  echo "run_standard.sh: the server exited with $rc after SIGTERM:" >&2
  cat "$work/server.err" >&2
  exit 1
fi
echo "server stopped cleanly (exit 0)"
