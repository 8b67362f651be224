#!/usr/bin/env bash
# Installs the libraries the web pages load (web/package.json: htm with its
# standalone Preact, and uPlot), pinned by web/package-lock.json, into
# web/node_modules, which `canopy server` serves under /vendor/. No install
# scripts run; nothing is copied into the repository.
#
# Idempotent and silent when already installed: it then only compares the
# lock's hash with the stamp written after the last successful install.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
web_dir="$root/web"
stamp="$web_dir/node_modules/.canopy-install-stamp"

lock_hash="$(sha256sum "$web_dir/package-lock.json" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
  exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  # shellcheck source=lib/apt.sh
  source "$root/scripts/lib/apt.sh"
  apt_install_missing install-web nodejs npm
fi
echo "install-web: installing the web pages' libraries into web/node_modules"
(cd "$web_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
echo "$lock_hash" > "$stamp"
