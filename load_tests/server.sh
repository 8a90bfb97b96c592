# Sourced by the load scripts: runs build/server/semrec-server on a free port with the demo
# encoder and catalog, and stops it.
#   source load_tests/server.sh      # needs BUILD_DIR; sets a cleanup trap and $work
#   start_server --fsync=always      # sets $server_pid and $address
#   stop_server                      # SIGTERM; fails unless the server exits 0
server=$BUILD_DIR/server/semrec-server
load=$BUILD_DIR/load_tests/semrec-load
for f in "$server" "$load" "$BUILD_DIR/testdata/encoder/manifest.json"; do
  [[ -e $f ]] || { echo "$0: $f is missing: build semrec-server semrec-load demo_encoder" >&2; exit 1; }
done

work=$(mktemp -d "${DATA_PARENT:-${TMPDIR:-/tmp}}/semrec-load.XXXXXX")
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

# Port 0: the server picks a free port and prints it once it is SERVING.
start_server() {
  "$server" --model_dir="$BUILD_DIR/testdata/encoder" --catalog_file=examples/catalog.jsonl \
    --listen=127.0.0.1:0 --log_level=warn "$@" >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  address=
  for _ in $(seq 300); do
    address=$(sed -n 's/^semrec-server listening on //p' "$work/server.out")
    [[ -n $address ]] && return 0
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "$0: the server exited during start-up:" >&2
      cat "$work/server.err" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$0: the server was not ready after 30 s" >&2
  exit 1
}

stop_server() {
  kill -TERM "$server_pid"
  local rc=0
  wait "$server_pid" || rc=$?
  server_pid=
  if [[ $rc -ne 0 ]]; then
    echo "$0: the server exited with $rc after SIGTERM:" >&2
    cat "$work/server.err" >&2
    exit 1
  fi
}
