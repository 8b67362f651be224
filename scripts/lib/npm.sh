# shellcheck shell=bash
# Sourced by the install scripts of npm packages pinned by a
# package-lock.json (web pages' libraries, browser tests, ONNX Runtime).
# Nothing runs an install script, and an install that is current costs a hash.
#
# npm_is_current DIR: true when DIR/node_modules holds what
#   DIR/package-lock.json pins, by the stamp the last complete install wrote.
# npm_install LABEL DIR: installs the lock's packages into DIR/node_modules,
#   first Debian's nodejs and npm when node or npm is missing.
# npm_mark_current DIR: writes the stamp, once the install is complete.

# shellcheck source=apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

npm_lock_hash() {
  sha256sum "$1/package-lock.json" | cut -d' ' -f1
}

npm_is_current() {
  local stamp="$1/node_modules/.canopy-install-stamp"
  command -v node >/dev/null 2>&1 && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(npm_lock_hash "$1")" ]
}

npm_install() {
  local label=$1 dir=$2
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install_missing "$label" nodejs npm
  fi
  echo "$label: installing what $dir/package-lock.json pins"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
}

npm_mark_current() {
  npm_lock_hash "$1" > "$1/node_modules/.canopy-install-stamp"
}
