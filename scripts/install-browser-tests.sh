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
# shellcheck source=lib/npm.sh
source "$root/scripts/lib/npm.sh"
apt_install_missing install-browser-tests chromium
npm_is_current "$root/tests/browser" && exit 0
npm_install install-browser-tests "$root/tests/browser"
npm_mark_current "$root/tests/browser"
