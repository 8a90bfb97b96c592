#!/usr/bin/env bash
# Measures what deploy/README.md's sizing figures come from: the resident memory (VmRSS) of a real
# semrec-server with a data directory, empty, after importing ITEMS synthetic catalog items, and
# after Feedback from USERS users with EVENTS events each. The per-item and per-user figures are
# taken after a restart that recovers the state from the snapshot (no encoding, so libtorch's
# temporaries, which the allocator keeps after an import, are not counted); the figure right
# after the import is printed as well, with the snapshot's size on disk.
#   BUILD_DIR=build ITEMS=20000 USERS=20000 EVENTS=10 deploy/measure_sizing.sh
# Needs semrec-server, the semrec CLI and an encoder folder (MODEL_DIR, default data/models/demo:
# `make demo-model`). Items are ~200-byte texts drawn from the encoder's vocabulary with 3
# categories and 3 attributes; each user consumes EVENTS items (Zipf-like popularity).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
ITEMS=${ITEMS:-20000}
USERS=${USERS:-20000}
EVENTS=${EVENTS:-10}
MODEL_DIR=${MODEL_DIR:-data/models/demo}
server=${SERVER:-$BUILD_DIR/server/semrec-server}
cli=${CLI:-$BUILD_DIR/client/semrec}
for f in "$server" "$cli" "$MODEL_DIR/manifest.json"; do
  [[ -e $f ]] || { echo "$0: $f is missing" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/semrec-sizing.XXXXXX")
pid=
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

/usr/bin/python3 - "$MODEL_DIR/vocab.txt" "$ITEMS" "$USERS" "$EVENTS" "$work" <<'EOF'
import json, random, sys
vocab_file, items, users, events, work = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5]
rng = random.Random(7)
words = [w for w in open(vocab_file).read().split() if w.isalpha() and len(w) > 2]
with open(f"{work}/items.jsonl", "w") as f:
    for i in range(items):
        text = " ".join(rng.choice(words) for _ in range(32))[:200]
        f.write(json.dumps({"id": f"item-{i:07d}", "text": text,
                            "categories": [f"cat-{rng.randrange(50)}" for _ in range(3)],
                            "attributes": {"brand": f"b{rng.randrange(999)}", "price": "19.99",
                                           "year": "2024"}}) + "\n")
ts = 1_700_000_000
with open(f"{work}/events.jsonl", "w") as f:
    for u in range(users):
        for e in range(events):
            item = min(int(rng.paretovariate(0.8)) - 1, items - 1)
            ts += 1
            f.write(json.dumps({"user_id": f"user-{u:07d}", "item_id": f"item-{item:07d}",
                                "type": "CLICK", "ts": ts}) + "\n")
EOF

rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status"; }
start_server() {
  "$server" --model_dir="$MODEL_DIR" --listen=127.0.0.1:0 --http_listen= --data_dir="$work/data" \
    --fsync=periodic --snapshot_interval=0 --snapshot_log_bytes=$((1 << 40)) --log_level=warn \
    >"$work/server.out" 2>"$work/server.err" &
  pid=$!
  address=
  for _ in $(seq 600); do
    address=$(sed -n 's/^semrec-server listening on //p' "$work/server.out")
    [[ -n $address ]] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.err" >&2; exit 1; }
    sleep 0.1
  done
  echo "$0: the server did not start" >&2
  exit 1
}
stop_server() { kill -TERM "$pid"; wait "$pid"; pid=; }  # writes the final snapshot
import() { "$cli" --target="$address" --deadline=60s import "$@" >/dev/null 2>&1; }
snapshot_kib() { du -sk "$(ls -d "$work"/data/snapshots/snapshot-* | tail -1)" | cut -f1; }

start_server
empty=$(rss_mib)
start=$(date +%s)
import items "$work/items.jsonl"
items_s=$(( $(date +%s) - start ))
after_import=$(rss_mib)
stop_server
items_disk=$(snapshot_kib)
start_server
items=$(rss_mib)
import events "$work/events.jsonl" --parallel=2
stop_server
all_disk=$(snapshot_kib)
start_server
all=$(rss_mib)
stop_server

awk -v e="$empty" -v ai="$after_import" -v i="$items" -v a="$all" -v n="$ITEMS" -v u="$USERS" \
    -v ev="$EVENTS" -v s="$items_s" -v id="$items_disk" -v ad="$all_disk" 'BEGIN {
  printf "empty server (libtorch, encoder, gRPC): %.0f MiB resident\n", e
  printf "%d items imported in %d s: %.0f MiB right after the import\n", n, s, ai
  printf "restarted with the %d items: %.0f MiB: %.2f KiB per item (snapshot %.2f KiB per item)\n", n, i, (i - e) * 1024 / n, id / n
  printf "restarted with %d users x %d events too: %.0f MiB: %.2f KiB per user (snapshot %.2f KiB per user)\n", u, ev, a, (a - i) * 1024 / u, (ad - id) / u
}'
