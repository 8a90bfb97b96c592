#!/usr/bin/env bash
# A real Prometheus server (Debian's `prometheus`) scrapes a running semrec-server's /metrics,
# and the test reads the catalog size and the RPC counter back through Prometheus's HTTP API.
#   tests/prometheus_scrape_test.sh BUILD_DIR SOURCE_DIR
# Exit 77 (CTest: skipped) when prometheus is not installed.
set -euo pipefail
build=$1
source=$2
command -v prometheus >/dev/null || { echo "prometheus not installed: skipping"; exit 77; }
work=$(mktemp -d)
server_pid="" prom_pid=""
cleanup() {
  [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
http_port=$(free_port)
prom_port=$(free_port)

"$build/server/semrec-server" --model_dir="$build/testdata/encoder" \
  --catalog_file="$source/examples/catalog.jsonl" --listen=127.0.0.1:0 \
  --http_listen="127.0.0.1:$http_port" --log_level=warn >"$work/server.out" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/server.out" && break
  sleep 0.2
done
grep -q "listening on" "$work/server.out" || { echo "server did not start"; cat "$work/server.out"; exit 1; }

cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: semrec
    static_configs:
      - targets: ["127.0.0.1:$http_port"]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prom.out" 2>&1 &
prom_pid=$!

query() {
  curl -s --get "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" || true
}
# Poll until Prometheus has scraped the server: up == 1 and the catalog size is 312.
for _ in $(seq 1 60); do
  items=$(query 'semrec_items{job="semrec"}')
  if [[ $items == *'"312"'* ]]; then
    up=$(query 'up{job="semrec"}')
    [[ $up == *'"1"'* ]] || { echo "up is not 1: $up"; exit 1; }
    echo "prometheus scraped semrec: semrec_items = 312, up = 1"
    exit 0
  fi
  sleep 0.5
done
echo "prometheus never saw semrec_items = 312; last answer: ${items:-none}"
tail -5 "$work/prom.out"
exit 1
