#!/usr/bin/env bash
# Installs what the browser tests need (tests/browser): Debian's Chromium,
# and playwright-core and axe-core from npm, pinned by
# tests/browser/package-lock.json. Neither package runs an install script:
# playwright-core drives the Chromium installed here and downloads nothing.
#
# Idempotent and silent when already installed: it then only checks the
# Debian packages and compares the lock's hash with the stamp written after
# the last successful install.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
test_dir="$root/tests/browser"
stamp="$test_dir/node_modules/.canopy-install-stamp"

# shellcheck source=lib/apt.sh
source "$root/scripts/lib/apt.sh"
apt_install_missing install-browser-tests chromium
# Node.js as install-onnxruntime.sh installs it: Debian's, unless a node and npm are there already.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install_missing install-browser-tests nodejs npm
fi

lock_hash="$(sha256sum "$test_dir/package-lock.json" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
  exit 0
fi
echo "install-browser-tests: installing playwright-core and axe-core into tests/browser"
(cd "$test_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
echo "$lock_hash" > "$stamp"
