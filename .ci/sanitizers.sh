#!/usr/bin/env bash
# Sanitizer step of CI, after `make test`: with clang-14, each in a build directory of its own and
# building only what it runs,
#   1. ThreadSanitizer over the core libraries: the tests that drive them from many threads;
#   2. ASan and UBSan: the engine's concurrency test and the index's tests again (a race that
#      frees memory under a reader is a use-after-free TSan does not report), then libFuzzer: request bytes through
#      the gRPC handlers into a real Engine, for FUZZ_SECONDS (60) from tests/fuzz/corpus.
# Fails on the first race, crash, leak, undefined behaviour or broken promise; a fuzz crash leaves
# its input in build-fuzz/ with the command that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
SYMBOLIZER=/usr/lib/llvm-14/bin/llvm-symbolizer
start=$(date +%s)

bash scripts/install-deps.sh

configure() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++-14 "$@" \
    >/dev/null
}

echo "sanitizers: ThreadSanitizer build (build-tsan)"
configure build-tsan -DSEMREC_TSAN=ON
cmake --build build-tsan -j "$JOBS" --target engine_concurrency_test batching_encoder_test collab_test index_test \
  user_test
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/.ci/tsan.supp external_symbolizer_path=$SYMBOLIZER"
build-tsan/core/engine/engine_concurrency_test
build-tsan/core/encoder/batching_encoder_test
build-tsan/core/collab/collab_test
build-tsan/core/user/user_test --gtest_filter='*Concurrent*'  # profiles moving between tiers
# Inserts linked beside searches, on two insert threads (UpsertBatch), with hnswlib's race on its
# level generator suppressed (.ci/tsan.supp). Not the bulk parallel UpsertBatch test: upstream's
# addPoint also reads maxlevel_ unlocked between inserts, which that test's many levels reach.
build-tsan/core/index/index_test --gtest_filter='*Beside*:*Concurrent*'
tsan_done=$(date +%s)

echo "sanitizers: ASan + UBSan + libFuzzer build (build-fuzz)"
configure build-fuzz -DSEMREC_FUZZ=ON
cmake --build build-fuzz -j "$JOBS" --target engine_concurrency_test index_test request_fuzzer
export ASAN_OPTIONS="external_symbolizer_path=$SYMBOLIZER"
export UBSAN_OPTIONS="print_stacktrace=1 external_symbolizer_path=$SYMBOLIZER"
build-fuzz/core/engine/engine_concurrency_test
build-fuzz/core/index/index_test  # a search serving a label before it is published reads past the ids
corpus=$(mktemp -d)  # what this run finds; the seeds stay as committed
trap 'rm -rf "$corpus"' EXIT
if ! build-fuzz/tests/fuzz/request_fuzzer -max_total_time="$FUZZ_SECONDS" -timeout=10 \
    -artifact_prefix=build-fuzz/ -print_final_stats=1 "$corpus" tests/fuzz/corpus \
    2>build-fuzz/fuzz.log; then
  tail -n 60 build-fuzz/fuzz.log
  echo "sanitizers: the fuzzer failed; replay with build-fuzz/tests/fuzz/request_fuzzer <the crash-* file above>"
  exit 1
fi
grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' build-fuzz/fuzz.log

end=$(date +%s)
echo "sanitizers: passed in $((end - start))s (TSan $((tsan_done - start))s, ASan and fuzzing $((end - tsan_done))s)"
