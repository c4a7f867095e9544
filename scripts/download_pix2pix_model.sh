#!/usr/bin/env bash
# Download a published pretrained pix2pix generator (run from the repository root).
# Usage: bash ./scripts/download_pix2pix_model.sh NAME
# Saves ./checkpoints/NAME_pretrained/latest_net_G.pth; the file is downloaded to a temporary
# name and moved into place only when complete, so a failed run leaves nothing behind.
# PIX2PIX_MODEL_URL overrides the server folder (default below); NAME.pth is appended.
SCRIPT=scripts/download_pix2pix_model.sh KIND=model ROOT=./checkpoints URL_VARIABLE=PIX2PIX_MODEL_URL
VALID_NAMES="edges2shoes sat2map map2sat facades_label2photo day2night"
# shellcheck source=scripts/download_common.sh
source "$(dirname "$0")/download_common.sh"

name=${1:-}
check_name "$name"
target="$ROOT/${name}_pretrained/latest_net_G.pth"
already_there "$target" "$name"
url="${PIX2PIX_MODEL_URL:-http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch}"
url="${url%/}/$name.pth"
echo "Specified [$name]"
start_download
work=$(mktemp "$ROOT/.$name.download.XXXXXX")
download "$url" "$work"
[[ -s $work ]] || fail "$url sent an empty file; try again later"
chmod 644 "$work"
mkdir -p "$(dirname "$target")"
mv "$work" "$target"
echo "saved $target; use it with --model pix2pix --name ${name}_pretrained"
