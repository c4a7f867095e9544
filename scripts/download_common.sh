# Shared by the download scripts (sourced, after they set SCRIPT): one-line failures and the fetch itself.

fail() {
  echo "$SCRIPT: error: $*" >&2
  exit 1
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
