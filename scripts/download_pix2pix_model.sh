#!/usr/bin/env bash
# Download a published pretrained pix2pix generator (run from the repository root).
# Usage: bash ./scripts/download_pix2pix_model.sh NAME
# Saves ./checkpoints/NAME_pretrained/latest_net_G.pth; the file is downloaded to a temporary
# name and moved into place only when complete, so a failed run leaves nothing behind.
# PIX2PIX_MODEL_URL overrides the server folder (default below); NAME.pth is appended.
set -euo pipefail

readonly SCRIPT=scripts/download_pix2pix_model.sh
readonly VALID_NAMES="edges2shoes sat2map map2sat facades_label2photo day2night"
readonly BASE_URL="${PIX2PIX_MODEL_URL:-http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch}"
# shellcheck source=scripts/download_common.sh
source "$(dirname "$0")/download_common.sh"
readonly ROOT=./checkpoints

main() {
  local name=${1:-}
  check_name model "$name"
  local target_dir="$ROOT/${name}_pretrained"
  local target="$target_dir/latest_net_G.pth"
  if [[ -e $target ]]; then
    echo "$target already exists; delete it to download $name again"
    exit 0
  fi
  local url="${BASE_URL%/}/$name.pth"
  echo "Specified [$name]; downloading $url"

  [[ -d $ROOT ]] || { mkdir -p "$ROOT" && created_root=1; }
  partial=$(mktemp "$ROOT/.$name.download.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT TERM

  local reason
  reason=$(fetch "$url" "$partial") ||
    fail "could not download $url (${reason:-no details}); check your connection or PIX2PIX_MODEL_URL"
  [[ -s $partial ]] || fail "$url sent an empty file; try again later"
  chmod 644 "$partial"
  mkdir -p "$target_dir"
  mv "$partial" "$target"
  echo "saved $target; use it with --model pix2pix --name ${name}_pretrained"
}

cleanup() {
  rm -f "$partial"
  [[ -z ${created_root:-} ]] || rmdir "$ROOT" 2>/dev/null || true
}

main "$@"
