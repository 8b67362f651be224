#!/usr/bin/env bash
# Installs the libraries the web pages load (web/package.json: htm with its
# standalone Preact, and uPlot), pinned by web/package-lock.json, into
# web/node_modules, which `canopy server` serves under /vendor/. Nothing is
# copied into the repository. Silent when already installed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/npm.sh
source "$root/scripts/lib/npm.sh"
npm_is_current "$root/web" && exit 0
npm_install install-web "$root/web"
npm_mark_current "$root/web"
