#!/usr/bin/env bash
# Builds tapegrad if needed (see bootstrap.sh), fetches the data set named by
# --data (or the one `experiment NAME` reads) when it is one that can be fetched
# (mnist, fashion-mnist) and is missing, then runs the tapegrad command with the
# given arguments:
#   cmake/run.sh train --data mnist ...      cmake/run.sh experiment xor-linear
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/cmake/bootstrap.sh"

# Find --data NAME / --data=NAME; a --data-dir means the user brings the data.
data="" data_dir=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --data) data="${args[i + 1]:-}" ;;
    --data=*) data="${args[i]#--data=}" ;;
    --data-dir | --data-dir=*) data_dir=yes ;;
  esac
done
# `experiment NAME` reads the data set of its study (CIFAR-10 cannot be fetched: without
# it, cifar10-regularization runs on Fashion-MNIST).
# `bench` reads MNIST unless told --data synthetic.
if [[ "${1:-}" == bench && -z "$data" ]]; then
  data=mnist
fi
if [[ "${1:-}" == experiment ]]; then
  case "${2:-}" in
    mnist-*) data=mnist ;;
    cifar10-regularization)
      [[ -d "${TAPEGRAD_DATA_DIR:-$root/data}/cifar-10-batches-bin" ]] || data=fashion-mnist ;;
  esac
fi
if [[ -z "$data_dir" && ( "$data" == mnist || "$data" == fashion-mnist ) ]]; then
  "$root/cmake/fetch_data.sh" "$data" >&2
fi
exec "$root/build/apps/tapegrad" "$@"
