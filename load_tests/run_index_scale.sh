#!/usr/bin/env bash
# The index at scale, end to end: builds benchmarks/index_scale_benchmark (and its -march=native
# twin) in BUILD_DIR, then runs it for each N in SIZES and each data set in DATA: "isotropic"
# random unit vectors (the hardest case), "latent" ones from a 24-dimensional subspace plus noise
# (recall behaves as with text embeddings). The first run of a size and data set builds the raw
# hnswlib, semrec fp32 and semrec int8 indexes (1M items: 30-60 minutes on 2 shared cores) and
# keeps them, their build times and the exact neighbours in CACHE; later runs only load and
# measure. Prints each run's table; JSON results go to OUT_DIR.
#   load_tests/run_index_scale.sh                              # SIZES="100000 1000000"
#   SIZES=100000 DATA=latent NATIVE=0 load_tests/run_index_scale.sh
#   REBUILD=1 SIZES=100000 load_tests/run_index_scale.sh       # build the 100k indexes again
# Environment: BUILD_DIR (build-scale), CACHE ($SEMREC_BENCH_CACHE or /tmp/semrec-bench),
# OUT_DIR (CACHE), NATIVE (1: also run the -march=native build), ROUNDS (3), NICE (19: the
# machine may be shared), EXTRA (more flags for the benchmark, e.g. "--efs=64,128").
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-scale}
SIZES=${SIZES:-"100000 1000000"}
DATA=${DATA:-"latent isotropic"}
CACHE=${CACHE:-${SEMREC_BENCH_CACHE:-/tmp/semrec-bench}}
OUT_DIR=${OUT_DIR:-$CACHE}
NATIVE=${NATIVE:-1}
ROUNDS=${ROUNDS:-3}
NICE=${NICE:-19}
EXTRA=${EXTRA:-}

targets=(index_scale_benchmark)
[[ "$NATIVE" == 1 ]] && targets+=(index_scale_benchmark_native)
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  nice -n "$NICE" cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
nice -n "$NICE" cmake --build "$BUILD_DIR" --target "${targets[@]}"
mkdir -p "$OUT_DIR"

rebuild=()
[[ "${REBUILD:-0}" == 1 ]] && rebuild=(--rebuild)
for n in $SIZES; do
  for data in $DATA; do
    case "$data" in
      latent) flags=(--latent_dim=24) suffix=-latent24 ;;
      isotropic) flags=() suffix= ;;
      *) echo "DATA: unknown data set '$data' (latent, isotropic)" >&2; exit 2 ;;
    esac
    echo "=== $n items, $data, project flags"
    # shellcheck disable=SC2086
    nice -n "$NICE" "$BUILD_DIR/benchmarks/index_scale_benchmark" --n="$n" "${flags[@]}" \
      --cache_dir="$CACHE" --rounds="$ROUNDS" --json_out="$OUT_DIR/index-scale-$n$suffix.json" \
      "${rebuild[@]}" $EXTRA
    if [[ "$NATIVE" == 1 ]]; then
      echo "=== $n items, $data, -march=native (search only: the indexes above)"
      # shellcheck disable=SC2086
      nice -n "$NICE" "$BUILD_DIR/benchmarks/index_scale_benchmark_native" --n="$n" "${flags[@]}" \
        --cache_dir="$CACHE" --rounds="$ROUNDS" \
        --json_out="$OUT_DIR/index-scale-$n$suffix-native.json" $EXTRA
    fi
  done
done
