#!/usr/bin/env bash
# Download a pix2pix dataset into ./datasets/NAME/ (run from the repository root).
# Usage: bash ./datasets/download_pix2pix_dataset.sh NAME
# The archive is downloaded and unpacked in a temporary folder and moved into place only
# when complete, so a failed run leaves nothing behind.
# PIX2PIX_DATASET_URL overrides the server folder (default below); NAME.tar.gz is appended.
SCRIPT=datasets/download_pix2pix_dataset.sh KIND=dataset ROOT=./datasets URL_VARIABLE=PIX2PIX_DATASET_URL
VALID_NAMES="cityscapes night2day edges2handbags edges2shoes facades maps"
# shellcheck source=scripts/download_common.sh
source "$(dirname "$0")/../scripts/download_common.sh"

name=${1:-}
check_name "$name"
[[ $name != cityscapes ]] ||
  fail "cityscapes cannot be redistributed (license); download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip from https://cityscapes-dataset.com and pair them with datasets/combine_A_and_B.py"
target="$ROOT/$name"
already_there "$target" "$name"
url="${PIX2PIX_DATASET_URL:-http://efrosgans.eecs.berkeley.edu/pix2pix/datasets}"
url="${url%/}/$name.tar.gz"
echo "Specified [$name]"
start_download
work=$(mktemp -d "$ROOT/.$name.download.XXXXXX")
download "$url" "$work/$name.tar.gz"
mkdir "$work/unpacked"
tar -xzf "$work/$name.tar.gz" -C "$work/unpacked" 2>/dev/null || fail "$url is not a valid .tar.gz archive; try again later"
[[ -d $work/unpacked/$name ]] || fail "the archive from $url has no top-level $name/ folder"
mv "$work/unpacked/$name" "$target"
echo "$name is ready in $target"
