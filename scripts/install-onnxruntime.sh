#!/usr/bin/env bash
# Installs ONNX Runtime (the npm package onnxruntime-node, pinned by
# tools/onnxruntime/package-lock.json) for the tests that compare Canopy's
# inference engine with it. Its CPU library ships inside the package, so
# install scripts are skipped (the package's own one only fetches GPU extras).
#
# Idempotent and silent when already installed: it then only hashes the lock
# and compares it with the stamp written after the last successful install.
# When `node` is missing it installs Debian's nodejs and npm (as root).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tool_dir="$root/tools/onnxruntime"
package_dir="$tool_dir/node_modules/onnxruntime-node"
stamp="$tool_dir/node_modules/.canopy-install-stamp"

lock_hash="$(sha256sum "$tool_dir/package-lock.json" | cut -d' ' -f1)"
if command -v node >/dev/null 2>&1 && [ -f "$package_dir/package.json" ] &&
   [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
  exit 0
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  # shellcheck source=lib/apt.sh
  source "$root/scripts/lib/apt.sh"
  apt_install_missing install-onnxruntime nodejs npm
fi

echo "install-onnxruntime: installing onnxruntime-node into tools/onnxruntime"
(cd "$tool_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

# The prebuilt binding and library for this machine must be in the package.
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "install-onnxruntime: onnxruntime-node ships no Linux build for $(uname -m)" >&2; exit 1 ;;
esac
bin_dir="$package_dir/bin/napi-v3/linux/$arch"
for file in onnxruntime_binding.node libonnxruntime.so.1; do
  if [ ! -f "$bin_dir/$file" ]; then
    echo "install-onnxruntime: $bin_dir/$file is missing after install" >&2
    exit 1
  fi
done
if ! (cd "$tool_dir" && node -e "require('onnxruntime-node')" >/dev/null); then
  echo "install-onnxruntime: node cannot load onnxruntime-node from $tool_dir" >&2
  exit 1
fi

echo "$lock_hash" > "$stamp"
