#!/usr/bin/env bash
# Builds tapegrad with the libtorch baseline (cmake/bootstrap.sh --bench: installs
# libtorch-dev and libbenchmark-dev once, builds in build-bench/), fetches MNIST if
# it is missing, and runs `tapegrad bench --vs-libtorch` with the given arguments:
#   cmake/bench.sh                      every configuration, one thread
#   cmake/bench.sh --threads 1,2 --json runs/bench.json
# The micro benchmarks are then at build-bench/tests/tapegrad_microbench.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/cmake/bootstrap.sh" --bench
"$root/cmake/fetch_data.sh" mnist >&2  # into $TAPEGRAD_DATA_DIR or <repo>/data
exec "$root/build-bench/apps/tapegrad" bench --vs-libtorch "$@"
