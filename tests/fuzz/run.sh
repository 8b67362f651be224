#!/usr/bin/env bash
# Runs the ONNX loader fuzzer for a bounded time over Debian's ONNX test
# models and tests/fuzz/regressions/ (inputs that once crashed it, replayed
# first every run) as read-only seeds; new inputs go to a temp directory. Exits non-zero
# on any crash, leak, timeout or out-of-memory, leaving the reproducer in
# tests/fuzz/artifacts/.
set -euo pipefail
fuzzer=$1
seconds=${2:-60}
if [ ! -x "$fuzzer" ]; then
  echo "fuzz: $fuzzer is missing; 'make test' builds it (clang, build-fuzz/)" >&2
  exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$here/artifacts"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$here/artifacts/" "$corpus" "$here/regressions" /usr/share/libonnx-testdata/data/node 2>&1 | tail -25
