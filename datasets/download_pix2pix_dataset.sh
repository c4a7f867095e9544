#!/usr/bin/env bash
# Download a pix2pix dataset into ./datasets/NAME/ (run from the repository root).
# Usage: bash ./datasets/download_pix2pix_dataset.sh NAME
# The archive is downloaded and unpacked in a temporary folder and moved into place only
# when complete, so a failed run leaves nothing behind.
# PIX2PIX_DATASET_URL overrides the server folder (default below); NAME.tar.gz is appended.
set -euo pipefail

readonly SCRIPT=datasets/download_pix2pix_dataset.sh
readonly VALID_NAMES="cityscapes night2day edges2handbags edges2shoes facades maps"
readonly BASE_URL="${PIX2PIX_DATASET_URL:-http://efrosgans.eecs.berkeley.edu/pix2pix/datasets}"
# shellcheck source=scripts/download_common.sh
source "$(dirname "$0")/../scripts/download_common.sh"
readonly ROOT=./datasets

main() {
  local name=${1:-}
  check_name dataset "$name"
  [[ $name != cityscapes ]] ||
    fail "cityscapes cannot be redistributed (license); download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip from https://cityscapes-dataset.com and pair them with datasets/combine_A_and_B.py"
  local target="$ROOT/$name"
  if [[ -e $target ]]; then
    echo "$target already exists; delete it to download $name again"
    exit 0
  fi
  local url="${BASE_URL%/}/$name.tar.gz"
  echo "Specified [$name]; downloading $url"

  [[ -d $ROOT ]] || { mkdir -p "$ROOT" && created_root=1; }
  work=$(mktemp -d "$ROOT/.$name.download.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  local reason
  reason=$(fetch "$url" "$work/$name.tar.gz") ||
    fail "could not download $url (${reason:-no details}); check your connection or PIX2PIX_DATASET_URL"
  mkdir "$work/unpacked"
  tar -xzf "$work/$name.tar.gz" -C "$work/unpacked" 2>/dev/null ||
    fail "$url is not a valid .tar.gz archive; try again later"
  [[ -d $work/unpacked/$name ]] ||
    fail "the archive from $url has no top-level $name/ folder"
  mv "$work/unpacked/$name" "$target"
  echo "$name is ready in $target"
}

cleanup() {
  rm -rf "$work"
  [[ -z ${created_root:-} ]] || rmdir "$ROOT" 2>/dev/null || true
}

main "$@"
