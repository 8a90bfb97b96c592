#!/usr/bin/env bash
# Checks that docker/runtime-packages.txt lists exactly the Debian packages that provide the
# shared libraries the BINARIES link directly, less those that debian:bookworm-slim already has
# (libc6, libgcc-s1, libstdc++6, zlib1g). A linked library that no installed package owns fails
# the check. Two packages are deliberate additions that ldd cannot see: OpenBLAS (libtorch only needs
# *a* BLAS and would get the slow reference one) and libsentencepiece0 (dlopen'ed by the
# SentencePiece tokenizer, because its bundled protobuf clashes with libtorch's when linked).
#   docker/check_runtime_packages.sh build/server/semrec-server build/client/semrec
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: $0 BINARY..." >&2; exit 2; }
list=$(dirname "$0")/runtime-packages.txt

# The package owning a library file; dpkg may have recorded it under /lib or /usr/lib (usrmerge).
owner() {
  local path=$1 alt
  case $path in
    /usr/lib/*) alt=${path#/usr} ;;
    /lib/*) alt=/usr$path ;;
    *) alt=$path ;;
  esac
  dpkg -S "$path" 2>/dev/null || dpkg -S "$alt" 2>/dev/null || true
}

packages=()
for binary in "$@"; do
  [[ -x $binary ]] || { echo "$0: $binary is not an executable" >&2; exit 1; }
  resolved=$(ldd "$binary")
  for lib in $(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(awk -v l="$lib" '$1 == l && $3 ~ /^\// {print $3}' <<<"$resolved")
    if [[ -z $path ]]; then
      [[ $lib == ld-linux* ]] && continue  # the dynamic loader itself (libc6)
      echo "$0: $binary needs $lib, which ldd cannot resolve here" >&2
      exit 1
    fi
    package=$(owner "$(readlink -f "$path")" | head -1 | cut -d: -f1)
    [[ -n $package ]] || package=$(owner "$path" | head -1 | cut -d: -f1)
    if [[ -z $package ]]; then
      echo "$0: $binary links $path, which no installed Debian package provides" >&2
      exit 1
    fi
    packages+=("$package")
  done
done
actual=$(printf '%s\n' "${packages[@]}" | grep -v -x -E 'libc6|libgcc-s1|libstdc\+\+6|zlib1g' | sort -u)
expected=$(grep -v -E '^(#|$|libopenblas0-openmp$|libsentencepiece0$)' "$list" | sort -u)
if [[ $actual != "$expected" ]]; then
  echo "docker/runtime-packages.txt is out of date for $*: - listed but not linked, + linked but not listed"
  diff <(echo "$expected") <(echo "$actual") | sed -n 's/^< /- /p; s/^> /+ /p'
  exit 1
fi
echo "runtime packages match the $(wc -l <<<"$actual") packages of the libraries linked by $*"
