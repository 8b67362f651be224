#!/usr/bin/env bash
# Runs one fuzz target for a bounded time: run.sh FUZZER SECONDS SEEDS...
# Each SEEDS directory is read as seeds and never written: the target's
# corpus (tests/fuzz/corpus/TARGET/), its regressions (inputs that once
# crashed it, tests/fuzz/regressions/TARGET/, replayed first every run) or
# outside test data; a directory that does not exist is left out. New inputs
# go to a temp directory. Exits non-zero on any crash, leak, timeout or
# out-of-memory, leaving the reproducer in tests/fuzz/artifacts/ under the
# target's name.
set -euo pipefail
fuzzer=$1
seconds=${2:-60}
shift 2 || shift $#
if [ ! -x "$fuzzer" ]; then
  echo "fuzz: $fuzzer is missing; 'make test' builds it (clang, build-fuzz/)" >&2
  exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
seeds=()
for dir in "$@"; do
  if [ -d "$dir" ]; then seeds+=("$dir"); fi
done
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$here/artifacts"
name=$(basename "$fuzzer")
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$here/artifacts/$name-" "$corpus" "${seeds[@]}" 2>&1 | grep -v " # Uses: " | tail -25
