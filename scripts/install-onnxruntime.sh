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

# shellcheck source=lib/npm.sh
source "$root/scripts/lib/npm.sh"
if npm_is_current "$tool_dir" && [ -f "$package_dir/package.json" ]; then
  exit 0
fi
npm_install install-onnxruntime "$tool_dir"

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

npm_mark_current "$tool_dir"
