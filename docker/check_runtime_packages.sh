#!/usr/bin/env bash
# Checks that docker/runtime-packages.txt lists exactly the Debian packages that provide the
# shared libraries BINARY links directly (libc/libstdc++ come with the base image). Two packages
# are deliberate additions that ldd cannot see: OpenBLAS (libtorch only needs *a* BLAS and would
# get the slow reference one) and libsentencepiece0 (dlopen'ed by the SentencePiece tokenizer,
# because its bundled protobuf clashes with libtorch's when linked).
#   docker/check_runtime_packages.sh build/server/semrec-server
set -euo pipefail
binary=$1
list=$(dirname "$0")/runtime-packages.txt
needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
actual=$(for lib in $needed; do
  path=$(ldd "$binary" | awk -v l="$lib" '$1 == l {print $3}')
  if [ -n "$path" ]; then dpkg -S "$(readlink -f "$path")" 2>/dev/null | cut -d: -f1; fi
done | grep -v -E '^(libc6|libstdc\+\+6|libgcc-s1)$' | sort -u)
expected=$(grep -v -E '^(#|$|libopenblas0-openmp$|libsentencepiece0$)' "$list" | sort -u)
if [ "$actual" != "$expected" ]; then
  echo "docker/runtime-packages.txt is out of date for $binary"
  diff <(echo "$expected") <(echo "$actual") || true
  exit 1
fi
echo "runtime packages match $(echo "$actual" | wc -l) linked libraries' packages"
