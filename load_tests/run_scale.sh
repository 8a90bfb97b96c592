#!/usr/bin/env bash
# The server at catalog scale (issue 7's targets): N items (default 1M, 384 dims, vectors drawn
# from a 24-dimensional subspace plus noise, as text embeddings are) imported with precomputed
# embeddings through `semrec import`, USERS user profiles (default 1M, EVENTS_PER_USER events each)
# through `semrec import events`, both into a --data_dir that is kept in CACHE and reused: the
# first run builds it (1M items: 30-60 minutes on 2 cores), later runs start from its snapshot.
# Then, each on a freshly started server:
#   - start-up time from the snapshot and resident memory, with items only and with the users;
#   - raw hnswlib searchKnn on the very graph the server saved (hnsw-baseline), 1 and 2 threads;
#   - user Recommend, closed loop (max throughput): CONTENT for SINGLE_USERS (20000) users with one
#     event each (one taste: one vector search, the raw baseline's equivalent), HYBRID (the
#     default: fusion with collaborative and trending) for the imported users (three tastes);
#   - open loop at RATE (1000) req/s; the maximum sustainable open-loop rate (throughput keeps up,
#     p99 within SLO_MS, found by bisection); open loop at 70% of it (p99/p50);
#   - Feedback at FEEDBACK_RATE events/s (EVENTS_PER_CALL per call, 10) while Recommend runs open
#     loop at RATE;
#   - Recommend open loop at RATE while new items arrive at INSERT_RATE (500) items/s.
# Prints one table; JSON of every run in OUT_DIR.
#   load_tests/run_scale.sh                            # N=1000000 USERS=1000000
#   N=100000 USERS=100000 DURATION=10s load_tests/run_scale.sh
# Environment: BUILD_DIR (build), CACHE ($SEMREC_BENCH_CACHE or /tmp/semrec-bench), OUT_DIR
# (CACHE/server-...), DURATION (15s per run), RATE (1000), FEEDBACK_RATE (5000), CONCURRENCY (8),
# EF (64, the server's --hnsw_ef_search), INSERT_RATE (500), SINGLE_USERS, EVENTS_PER_CALL,
# FSYNC (always: the server's --fsync; periodic for Feedback without an fdatasync per call),
# SLO_MS (5: the p99 a sustainable rate must keep), PROBE_DURATION (6s per bisection step),
# SERVER_FLAGS (more semrec-server flags, e.g. "--search_nice=5"), REBUILD (1: import again),
# DAMON_OFF (1: switch the kernel's DAMON proactive reclaim off for the runs and back on at exit;
# see below). DURATION is in seconds ("15s").
#
# DAMON: some VMs (this project's 2-core machines among them) run the kernel's DAMON reclaim,
# a kdamond thread that looks for cold pages of physical memory and tries to page them out. On a
# 10 GB server it takes one of the two cores for bursts of 10-35 ms several times a second, and
# open-loop p99 goes from about 3 ms to about 100 ms. The table says whether it was running.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
N=${N:-1000000}
USERS=${USERS:-1000000}
EVENTS_PER_USER=${EVENTS_PER_USER:-3}
DIM=384
CACHE=${CACHE:-${SEMREC_BENCH_CACHE:-/tmp/semrec-bench}}
DURATION=${DURATION:-15s}
RATE=${RATE:-1000}
FEEDBACK_RATE=${FEEDBACK_RATE:-5000}
CONCURRENCY=${CONCURRENCY:-8}
EF=${EF:-64}
INSERT_RATE=${INSERT_RATE:-500}
SINGLE_USERS=${SINGLE_USERS:-20000}
SLO_MS=${SLO_MS:-5}
PROBE_DURATION=${PROBE_DURATION:-6s}
EVENTS_PER_CALL=${EVENTS_PER_CALL:-10}
FSYNC=${FSYNC:-always}
base=$CACHE/server-n$N-u$USERS-latent24
OUT_DIR=${OUT_DIR:-$base/results}
data=$base/data
items=$base/items.jsonl        # with embeddings, for the import
items_text=$base/items-text.jsonl  # the same ids and texts, for the load generator
events=$base/events.jsonl
new_items=$base/new-items.jsonl  # for the online inserts (fresh ids each run)

server=$BUILD_DIR/server/semrec-server
load=$BUILD_DIR/load_tests/semrec-load
cli=$BUILD_DIR/client/semrec
baseline=$BUILD_DIR/load_tests/hnsw-baseline
cmake --build "$BUILD_DIR" --target semrec-server semrec-load semrec-cli hnsw-baseline demo_encoder \
  >/dev/null
mkdir -p "$base" "$OUT_DIR"

server_pid=
damon_states=$(ls /sys/kernel/mm/damon/admin/kdamonds/*/state 2>/dev/null || true)
damon_switched_off=()
damon=off
for f in $damon_states; do if [[ $(cat "$f") == on ]]; then damon=on; fi; done
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  for f in "${damon_switched_off[@]}"; do echo on >"$f" || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME: starts on $data, waits until SERVING; sets $address, $server_pid and
# $startup_s (launch to SERVING).
start_server() {
  local name=$1
  shift
  local t0
  t0=$(date +%s.%N)
  "$server" --model_dir="$BUILD_DIR/testdata/encoder" --data_dir="$data" --listen=127.0.0.1:0 \
    --http_listen= --log_level=warn --hnsw_ef_search="$EF" --snapshot_interval=0 \
    --snapshot_log_bytes=$((64 << 30)) --fsync="$FSYNC" ${SERVER_FLAGS:-} "$@" >"$base/$name.out" 2>"$base/$name.err" &
  server_pid=$!
  address=
  while [[ -z $address ]]; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "$0: the server exited during start-up:" >&2
      cat "$base/$name.err" >&2
      exit 1
    fi
    sleep 0.1
    address=$(sed -n 's/^semrec-server listening on //p' "$base/$name.out")
  done
  startup_s=$(python3 -c "print(round($(date +%s.%N) - $t0, 2))")
}
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || { echo "$0: the server exited with $?" >&2; exit 1; }
  server_pid=
}
rss_mb() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$server_pid/status"; }

# 1. Files and the data directory (once).
if [[ ! -s $items ]]; then
  /usr/bin/python3 tools/synthetic_catalog.py --items "$N" --embedding-dim "$DIM" --latent-dim 24 \
    --out "$items.tmp" && mv "$items.tmp" "$items"
fi
if [[ ! -s $items_text ]]; then
  /usr/bin/python3 tools/synthetic_catalog.py --items "$N" --out "$items_text.tmp" \
    && mv "$items_text.tmp" "$items_text"
fi
if [[ ! -s $events ]]; then
  /usr/bin/python3 - "$N" "$USERS" "$EVENTS_PER_USER" "$events" <<'PY'
import json, random, sys, time
n, users, per_user, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(7)
now = int(time.time()) - 86400
types = ["VIEW", "CLICK", "LIKE", "PURCHASE"]
with open(path + ".tmp", "w") as out:
    for u in range(1, users + 1):
        out.write("".join(
            f'{{"user_id":"u{u}","item_id":"item-{rng.randrange(n)}","type":"{rng.choice(types)}",'
            f'"ts":{now + e * 60}}}\n' for e in range(per_user)))
import os
os.replace(path + ".tmp", path)
PY
fi
if [[ "${REBUILD:-0}" == 1 ]]; then rm -rf "$data" "$base/imported-items" "$base/imported-users"; fi
if [[ ! -f $base/imported-items ]]; then
  rm -rf "$data"
  start_server import-items
  t0=$(date +%s)
  "$cli" --target="$address" --deadline=600s --json import items "$items" --batch=1000 \
    >"$OUT_DIR/import-items.json"
  echo "imported $N items in $(($(date +%s) - t0)) s"
  stop_server
  touch "$base/imported-items"
fi
users_cached=0
[[ -f $base/imported-users ]] && users_cached=1
start_server items-only
items_startup_s=$startup_s
sleep 2
items_rss_mb=$(rss_mb)
if [[ $users_cached == 1 ]]; then  # the snapshot holds the users already: no items-only figure
  items_startup_s=nan items_rss_mb=nan
fi
if [[ ! -f $base/imported-users ]]; then
  t0=$(date +%s)
  "$cli" --target="$address" --deadline=600s --json import events "$events" --batch=1000 \
    --parallel=4 >"$OUT_DIR/import-events.json"
  echo "imported $USERS users ($EVENTS_PER_USER events each) in $(($(date +%s) - t0)) s"
  touch "$base/imported-users"
fi
stop_server

# 2. Raw hnswlib on the graph the last snapshot holds.
graph=$(ls -d "$data"/snapshots/snapshot-*/hnsw.graph | sort | tail -n 1)
"$baseline" --graph="$graph" --dim="$DIM" --ef="$EF" --threads=1,2 --seconds=10 \
  --json_out="$OUT_DIR/raw-hnswlib.json"

# 3. The server with items and users.
if [[ "${DAMON_OFF:-0}" == 1 && $damon == on ]]; then
  for f in $damon_states; do
    if [[ $(cat "$f") == on ]]; then echo off >"$f" && damon_switched_off+=("$f"); fi
  done
  damon="switched off for the runs (DAMON_OFF=1)"
fi
start_server full
full_startup_s=$startup_s
sleep 2
full_rss_mb=$(rss_mb)
common=(--target="$address" --items_file="$items_text" --query=0 --warmup=2s --duration="$DURATION")
many=(--users="$USERS")  # the imported users: three events on random items, so most have three
                         # tastes, and a Recommend makes one search per taste
one=(--users="$SINGLE_USERS" --user_prefix=p)  # one event each: one taste, one search, as raw
run() {  # name, semrec-load flags...
  local name=$1
  shift
  "$load" "${common[@]}" "$@" --json_out="$OUT_DIR/$name.json" >"$OUT_DIR/$name.txt"
}
# Users p1..pSINGLE_USERS with one event each (event ids make a rerun a no-op).
"$load" "${common[@]}" "${one[@]}" --seed_feedback="$SINGLE_USERS" --duration=1s --warmup=0s \
  --recommend=1 --feedback=0 >/dev/null
content=(--recommend=1 --feedback=0 --strategy=CONTENT)
run closed-content "${one[@]}" "${content[@]}" --mode=closed --concurrency="$CONCURRENCY"
run closed-hybrid "${many[@]}" --recommend=1 --feedback=0 --mode=closed --concurrency="$CONCURRENCY"
max_rate=$(python3 -c "import json; print(int(json.load(open('$OUT_DIR/closed-content.json'))['overall']['throughput_rps']))")
run open-content-rate "${one[@]}" "${content[@]}" --mode=open --rate="$RATE" --concurrency=4
run open-hybrid-rate "${many[@]}" --recommend=1 --feedback=0 --mode=open --rate="$RATE" \
  --concurrency=4
# The maximum sustainable rate is an open-loop figure: the highest arrival rate the server keeps up
# with (throughput within 3% of the rate, no errors) while p99 stays within SLO_MS (5 ms, the
# issue's latency target). The closed loop's 8 callers wait for each answer, so its maximum is
# more than an open loop beside its own generator can be served at on the same two cores. Found by
# bisection between RATE (must pass: open-content-rate) and the closed-loop maximum with
# PROBE_DURATION runs, then measured again at 70% of it for the full DURATION.
sustainable() {  # json file: prints 1 when the run kept up within the SLO
  python3 - "$1" "$SLO_MS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
o = r["overall"]
ok = o["errors_total"] == 0 and o["throughput_rps"] >= 0.97 * r["rate"] and \
     o["latency_ms"]["p99"] <= float(sys.argv[2])
print(1 if ok else 0)
PY
}
lo=$RATE hi=$max_rate
if [[ $(sustainable "$OUT_DIR/open-content-rate.json") != 1 ]]; then hi=$RATE lo=0; fi
probe_common=("${common[@]}")
probe_common=("${probe_common[@]/--duration=*/--duration=$PROBE_DURATION}")
probe_common=("${probe_common[@]/--warmup=*/--warmup=1s}")
while ((hi - lo > max_rate / 20 && lo > 0)); do
  mid=$(((lo + hi) / 2))
  "$load" "${probe_common[@]}" "${one[@]}" "${content[@]}" --mode=open --rate="$mid" \
    --concurrency=4 --json_out="$OUT_DIR/probe-$mid.json" >/dev/null
  if [[ $(sustainable "$OUT_DIR/probe-$mid.json") == 1 ]]; then lo=$mid; else hi=$mid; fi
  echo "probe: $mid req/s open loop: $([[ $lo == "$mid" ]] && echo sustained || echo not sustained)"
done
sustainable_rate=$lo
echo "$sustainable_rate" >"$OUT_DIR/sustainable-rate"
run open-content-70 "${one[@]}" "${content[@]}" --mode=open \
  --rate=$((sustainable_rate > 0 ? sustainable_rate * 7 / 10 : max_rate * 7 / 10)) --concurrency=4
# Feedback: FEEDBACK_RATE events/s in calls of EVENTS_PER_CALL (gRPC costs about 0.1 ms of CPU
# per call here), while Recommend runs open loop at RATE.
run recommend-beside-feedback "${one[@]}" "${content[@]}" --mode=open --rate="$RATE" \
  --concurrency=4 &
beside=$!
run feedback-under-load "${many[@]}" --mode=open --rate=$((FEEDBACK_RATE / EVENTS_PER_CALL)) \
  --events_per_feedback="$EVENTS_PER_CALL" --concurrency=4 --recommend=0 --feedback=1
wait "$beside"
# Online inserts: new items (fresh ids each run) at INSERT_RATE items/s while Recommend runs open
# loop at RATE (compare with open-content-rate, the same load without inserts).
/usr/bin/python3 tools/synthetic_catalog.py --items $((INSERT_RATE * (${DURATION%s} + 2))) --embedding-dim "$DIM" --latent-dim 24 \
  --seed "$(date +%s)" --id-prefix "new-$(date +%s)-" --out "$new_items" 2>/dev/null
"$cli" --target="$address" --deadline=60s --json import items "$new_items" --batch=50 \
  --rate="$INSERT_RATE" >"$OUT_DIR/import-online.json" 2>/dev/null &
inserter=$!
run recommend-beside-inserts "${one[@]}" "${content[@]}" --mode=open --rate="$RATE" --concurrency=4
wait "$inserter"  # its items/s says whether the server kept up with INSERT_RATE
sleep 1
after_rss_mb=$(rss_mb)
stop_server

python3 - "$OUT_DIR" "$N" "$USERS" "$EF" "$items_startup_s" "$items_rss_mb" "$full_startup_s" \
  "$full_rss_mb" "$after_rss_mb" "$damon" "$FSYNC" <<'PY'
import json, sys
out, n, users, ef = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
items_startup, items_rss, full_startup, full_rss, after_rss = map(float, sys.argv[5:10])
damon, fsync = sys.argv[10], sys.argv[11]
raw = {r["threads"]: r["queries_per_second"] for r in json.load(open(f"{out}/raw-hnswlib.json"))["results"]}
def load(name):
    return json.load(open(f"{out}/{name}.json"))
print(f"\n{n} items x 384 dims (latent 24 + noise), {users} users, M=16, ef={ef}, k=10; "
      f"--fsync={fsync}; kernel DAMON reclaim: {damon}")
print(f"start-up from the snapshot: items only {items_startup:.1f} s ({items_rss:.0f} MB resident); "
      f"items and users {full_startup:.1f} s ({full_rss:.0f} MB; {after_rss:.0f} MB after the runs)")
print(f"raw hnswlib searchKnn on the server's graph: 1 thread {raw.get(1, 0):.0f} q/s, "
      f"2 threads {raw.get(2, 0):.0f} q/s")
print(f"{'run':28} {'req/s':>8} {'x raw 2t':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
      f"{'p99.9':>7} {'p99/p50':>7} {'errors':>6}")
closed_max = load("closed-content")["overall"]["throughput_rps"]
sustained = int(open(f"{out}/sustainable-rate").read())
print(f"maximum sustainable open-loop rate (CONTENT, p99 within the SLO): {sustained} req/s "
      f"({sustained / max(closed_max, 1):.2f}x the closed-loop maximum); open-content-70 runs at "
      f"70% of it")
inserted = json.load(open(f"{out}/import-online.json"))
print(f"online inserts: {inserted['items']} items at {inserted['items_per_second']:.0f} items/s "
      f"beside recommend-beside-inserts")
for name in ["closed-content", "closed-hybrid", "open-content-rate", "open-hybrid-rate",
             "open-content-70", "recommend-beside-feedback", "feedback-under-load",
             "recommend-beside-inserts"]:
    r = load(name)["overall"]
    l = r["latency_ms"]
    print(f"{name:28} {r['throughput_rps']:8.0f} {r['throughput_rps'] / raw.get(2, 1):8.2f} "
          f"{l['p50']:7.2f} {l['p90']:7.2f} {l['p99']:7.2f} {l['p99.9']:7.2f} "
          f"{l['p99'] / max(l['p50'], 1e-9):7.2f} {r['errors_total']:6d}")
PY
