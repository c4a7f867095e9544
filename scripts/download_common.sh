# Shared by the download scripts, sourced after they set SCRIPT (its path, for messages), KIND (dataset or model),
# VALID_NAMES, ROOT (the folder written into) and URL_VARIABLE (the variable that overrides the server folder):
# one-line failures, the name check, and a download into a temporary path that is removed on any failure.
set -euo pipefail

fail() {
  echo "$SCRIPT: error: $*" >&2
  exit 1
}

# check_name NAME: NAME must be one of VALID_NAMES.
check_name() {
  local name=$1
  [[ -n $name ]] || fail "usage: bash ./$SCRIPT NAME, where NAME is one of: ${VALID_NAMES// /, }"
  [[ " $VALID_NAMES " == *" $name "* ]] || fail "unknown $KIND '$name'; valid names: ${VALID_NAMES// /, }"
}

# download URL PARTIAL: fetch URL into the temporary PARTIAL (a file or folder under ROOT, made by the caller
# after start_download), or fail in one line naming the override variable.
download() {
  local url=$1 partial=$2 reason
  echo "downloading $url"
  reason=$(fetch "$url" "$partial") ||
    fail "could not download $url (${reason:-no details}); check your connection or $URL_VARIABLE"
}

# start_download: create ROOT if missing; from now on, exiting for any reason removes $work and, if this run
# created it, ROOT.
start_download() {
  [[ -d $ROOT ]] || { mkdir -p "$ROOT" && created_root=1; }
  trap remove_partial_files EXIT
  trap 'exit 130' INT TERM
}

remove_partial_files() {
  rm -rf "${work:-}"
  [[ -z ${created_root:-} ]] || rmdir "$ROOT" 2>/dev/null || true
}

# already_there TARGET NAME: say so and exit 0 when TARGET exists.
already_there() {
  [[ ! -e $1 ]] || { echo "$1 already exists; delete it to download $2 again"; exit 0; }
}

# fetch URL DEST: download with curl (or wget); on failure prints the tool's reason on stdout.
fetch() {
  local url=$1 dest=$2
  if ! command -v curl >/dev/null; then
    wget --quiet --output-document "$dest" "$url" || { echo "wget exit status $?"; return 1; }
  elif [[ -t 2 ]]; then
    curl --fail --location --progress-bar --output "$dest" "$url"
  else
    curl --fail --location --silent --show-error --output "$dest" "$url" 2>&1
  fi
}
