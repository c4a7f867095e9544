# Shared by the download scripts (sourced, after they set SCRIPT and VALID_NAMES): one-line failures, the name
# check and the fetch itself.

fail() {
  echo "$SCRIPT: error: $*" >&2
  exit 1
}

# check_name KIND NAME: NAME must be one of VALID_NAMES; KIND (dataset, model) words the message.
check_name() {
  local kind=$1 name=$2
  [[ -n $name ]] || fail "usage: bash ./$SCRIPT NAME, where NAME is one of: ${VALID_NAMES// /, }"
  [[ " $VALID_NAMES " == *" $name "* ]] || fail "unknown $kind '$name'; valid names: ${VALID_NAMES// /, }"
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
