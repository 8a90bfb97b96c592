#!/usr/bin/env bash
# Installs exactly the Debian bookworm packages semrec needs to build, test and run.
# Idempotent: when everything is already installed it returns in well under a second.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # sanitizer and fuzz builds (.ci/sanitizers.sh): clang, its sanitizer and libFuzzer runtimes, and
  # llvm-symbolizer for readable reports
  clang-14 libclang-rt-14-dev llvm-14
  # gRPC + protobuf (C++ runtime, codegen, reflection)
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  # core libraries
  libtorch-dev libhnswlib-dev libabsl-dev libspdlog-dev libfmt-dev
  # an optimized BLAS for libtorch (without it Debian falls back to reference BLAS, ~14x slower)
  libopenblas0-openmp
  libutf8proc-dev nlohmann-json3-dev
  # SentencePiece tokenizers (XLM-R, T5); spm_train trains the tests' tiny models
  libsentencepiece-dev sentencepiece
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # promtool (checks the /metrics exposition in core/metrics tests)
  prometheus
  # openssl: the security tests make their certificates with it
  openssl
  # Redis user store (--user_store=redis://...): the hiredis C client; its tests start a real redis-server
  libhiredis-dev redis-server
  # python side (run with /usr/bin/python3): test encoder generation, tools
  python3-torch python3-numpy
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
