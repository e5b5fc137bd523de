#!/usr/bin/env bash
# Builds tapegrad if needed (see bootstrap.sh) and runs the whole test suite with
# CTest. With --sanitize, builds and tests under AddressSanitizer + UBSan.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/cmake/bootstrap.sh" "$@"
build_dir="$root/build"
[[ "${1:-}" == "--sanitize" ]] && build_dir="$root/build-sanitize"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
