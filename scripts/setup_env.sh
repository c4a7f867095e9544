#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment under ~/.cache, keyed by requirements.txt.
# Prints the environment's path on the last line. Source-free: callers do `VENV=$(bash scripts/setup_env.sh | tail -1)`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
key=$(cat "$root/requirements.txt" | sha256sum | cut -c1-12)
venv="${PIX2PIX_VENV:-$HOME/.cache/pix2pix/venv-$key}"
if [ ! -f "$venv/.complete" ]; then
  echo "setting up the environment in $venv (first run: a few minutes)" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  constraints="$(dirname "$venv")/build-constraints.txt"
  echo 'setuptools<81' > "$constraints"
  export PIP_BUILD_CONSTRAINT="$constraints" PIP_CONSTRAINT="$constraints"
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q -r "$root/requirements.txt" >&2
  touch "$venv/.complete"
fi
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the page tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >&2 || echo "warning: chromium could not be installed; page tests will fail" >&2
fi
if [ ! -f "$venv/.visdom_assets" ]; then
  if bash "$root/scripts/visdom_assets.sh" "$venv"; then
    touch "$venv/.visdom_assets"
  else
    echo "warning: visdom's web files could not be fetched from the npm registry; the live display page will not load (run set-up again to retry)" >&2
  fi
fi
echo "$venv"
