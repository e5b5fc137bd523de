#!/usr/bin/env bash
# Makes a build of tapegrad ready: installs the Debian packages it needs (once),
# configures (once) and builds (incrementally). Safe to run again: it skips what
# is done. Used by cmake/run.sh and cmake/test.sh.
#
#   cmake/bootstrap.sh            -> build/          (Release)
#   cmake/bootstrap.sh --sanitize -> build-sanitize/ (AddressSanitizer + UBSan)
#   cmake/bootstrap.sh --bench    -> build-bench/    (Release, with the libtorch baseline
#                                                     and the Google Benchmark micro benchmarks)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build"
cmake_args=(-DCMAKE_BUILD_TYPE=Release)
packages=(g++ cmake ninja-build libopenblas-dev libfmt-dev doctest-dev libcli11-dev
          nlohmann-json3-dev zlib1g-dev gnuplot-nox)
case "${1:-}" in
  --sanitize)
    build_dir="$root/build-sanitize"
    cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPEGRAD_SANITIZE=ON)
    ;;
  --bench)
    build_dir="$root/build-bench"
    cmake_args=(-DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BENCH_LIBTORCH=ON -DTAPEGRAD_MICROBENCH=ON)
    packages+=(libtorch-dev libbenchmark-dev)
    ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "tapegrad: installing Debian packages: ${missing[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then
      sudo_cmd=(sudo)
    else
      echo "tapegrad: run as root or install these packages first: ${missing[*]}" >&2
      exit 1
    fi
  fi
  "${sudo_cmd[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
fi

if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S "$root" -B "$build_dir" -G Ninja "${cmake_args[@]}" >&2
fi
cmake --build "$build_dir" >&2
