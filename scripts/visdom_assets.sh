#!/usr/bin/env bash
# Give the visdom server of a virtual environment the web files it would download at its first start
# (visdom/server/build.py, download_scripts: unpkg.com, cdn.plot.ly, d3js.org and cdnjs), taken from the npm
# registry at the versions visdom names, so that `python -m visdom.server` starts with no internet.
# Usage: bash scripts/visdom_assets.sh VENV. Idempotent: files already in place are kept and nothing is fetched.
set -euo pipefail
venv="${1:?usage: visdom_assets.sh VENV}"
python="$venv/bin/python"
static="$("$python" -c 'import os, visdom; print(os.path.join(os.path.dirname(visdom.__file__), "static"))')"
mathjax=js/mathjax/2.7.5

# package@version, file inside the package, where visdom looks for it (under its static/ folder).
# d3.v3 and d3-selection-multi.v1 are d3js.org's names for the last release of those majors (3.5.17, 1.0.1).
assets="
jquery@3.1.1                dist/jquery.min.js                          js/jquery.min.js
bootstrap@3.3.7             dist/js/bootstrap.min.js                    js/bootstrap.min.js
bootstrap@3.3.7             dist/css/bootstrap.min.css                  css/bootstrap.min.css
bootstrap@3.3.7             dist/fonts/glyphicons-halflings-regular.eot    fonts/glyphicons-halflings-regular.eot
bootstrap@3.3.7             dist/fonts/glyphicons-halflings-regular.woff2  fonts/glyphicons-halflings-regular.woff2
bootstrap@3.3.7             dist/fonts/glyphicons-halflings-regular.woff   fonts/glyphicons-halflings-regular.woff
bootstrap@3.3.7             dist/fonts/glyphicons-halflings-regular.ttf    fonts/glyphicons-halflings-regular.ttf
bootstrap@3.3.7             dist/fonts/glyphicons-halflings-regular.svg    fonts/glyphicons-halflings-regular.svg#glyphicons_halflingsregular
react@16.2.0                umd/react.production.min.js                 js/react-react.min.js
react-dom@16.2.0            umd/react-dom.production.min.js             js/react-dom.min.js
react-modal@3.1.10          dist/react-modal.min.js                     js/react-modal.min.js
plotly.js-dist-min@2.11.1   plotly.min.js                               js/plotly-plotly.min.js
sjcl@1.0.7                  sjcl.js                                     js/sjcl.js
layout-bin-packer@1.4.0     dist/layout-bin-packer.js.map               js/layout-bin-packer.js.map
layout-bin-packer@1.4.0     dist/layout-bin-packer.js                   js/layout_bin_packer.js
d3@3.5.17                   d3.min.js                                   js/d3.v3.min.js
d3-selection-multi@1.0.1    build/d3-selection-multi.js                 js/d3-selection-multi.v1.js
save-svg-as-png@1.4.17      lib/saveSvgAsPng.js                         js/saveSvgAsPng.js
react-resizable@1.4.6       css/styles.css                              css/react-resizable-styles.css
react-grid-layout@0.16.3    css/styles.css                              css/react-grid-layout-styles.css
classnames@2.2.5            index.js                                    fonts/classnames
mathjax@2.7.5               config/Safe.js                              $mathjax/config/Safe.js
mathjax@2.7.5               config/TeX-AMS-MML_HTMLorMML.js             $mathjax/config/TeX-AMS-MML_HTMLorMML.js
mathjax@2.7.5               extensions/Safe.js                          $mathjax/extensions/Safe.js
mathjax@2.7.5               jax/output/SVG/fonts/TeX/fontdata.js        $mathjax/jax/output/SVG/fonts/TeX/fontdata.js
mathjax@2.7.5               jax/output/SVG/jax.js                       $mathjax/jax/output/SVG/jax.js
mathjax@2.7.5               jax/output/SVG/fonts/TeX/Size1/Regular/Main.js  $mathjax/jax/output/SVG/fonts/TeX/Size1/Regular/Main.js
mathjax@2.7.5               jax/output/SVG/config.js                    $mathjax/jax/output/SVG/config.js
mathjax@2.7.5               MathJax.js                                  $mathjax/MathJax.js
"

# The package's tarball from the npm registry: with npm when there is one, else straight from the registry's URL.
fetch() {
  local name="${1%@*}" version="${1##*@}"
  if command -v npm >/dev/null; then
    echo "$work/$(cd "$work" && npm pack --silent "$1" | tail -1)"
  else
    local registry="${npm_config_registry:-https://registry.npmjs.org}"
    curl -fsSL --retry 3 -o "$work/$name-$version.tgz" "${registry%/}/$name/-/$name-$version.tgz"
    echo "$work/$name-$version.tgz"
  fi
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fetched=0
while read -r package inside target; do
  [ -n "$package" ] || continue
  target="$static/${target//\$mathjax/$mathjax}"
  [ -s "$target" ] && continue
  unpacked="$work/$package"
  if [ ! -d "$unpacked" ]; then
    mkdir -p "$unpacked"
    tar --warning=no-unknown-keyword -xzf "$(fetch "$package")" -C "$unpacked" --strip-components=1
  fi
  mkdir -p "$(dirname "$target")"
  cp "$unpacked/$inside" "$target"
  fetched=$((fetched + 1))
done <<< "$assets"

# Mark the files as built for this visdom version (else it downloads them all again), then check with visdom's own
# list that nothing is left for it to download.
"$python" - "$static" <<'EOF'
import sys
from pathlib import Path
from unittest import mock
from urllib.error import URLError

import visdom
from visdom.server import build

Path(sys.argv[1], 'version.built').write_text(visdom.__version__)
wanted = []


def refuse(url):
    wanted.append(url)
    raise URLError('offline')


with mock.patch('urllib.request.OpenerDirector.open', side_effect=lambda request, *a, **k: refuse(request.full_url)), \
        mock.patch('requests.get', side_effect=lambda url, *a, **k: refuse(url)), \
        mock.patch('builtins.print'), mock.patch('logging.error'):
    try:
        build.download_scripts()
    except URLError:
        pass
if wanted:
    sys.exit('error: visdom would still download: ' + ' '.join(wanted))
EOF
echo "visdom web files in place under $static ($fetched copied now)" >&2
