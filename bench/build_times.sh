#!/usr/bin/env bash
# Measures the build the way developers and CI meet it, and records the
# figures in docs/benchmarks.md (section "build-times"):
#   cold         a clone with an empty compiler cache (packages installed)
#   warm clone   a second clone in another folder, built with the cache the
#                cold build filled (what CI and a new checkout see)
#   incremental  one server source file touched in the warm clone, rebuilt
#                and relinked
# Each clone builds everything `make test` builds (all targets, tests and
# benchmarks included; the clang fuzz build is timed on its own). Takes
# about 20 minutes on 2 cores. Usage: bench/build_times.sh [WORK_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/canopy-build-times}
touched=src/server/server.cpp

rm -rf "$work"
mkdir -p "$work"
export CCACHE_DIR="$work/ccache"  # empty: the first build is cold

seconds_of() {  # seconds_of LOG COMMAND...: runs COMMAND, logs it, prints its wall time
  local log=$1 start end
  shift
  start=$(date +%s.%N)
  "$@" >"$log" 2>&1 || { echo "build-times: '$*' failed, see $log" >&2; exit 1; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}

build() {  # build CLONE_DIR LOG: configure and build everything in a clone
  local dir=$1 log=$2
  (cd "$dir" && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build build) >"$log" 2>&1
}

echo "build-times: cold build (empty compiler cache) ..." >&2
git clone -q "$root" "$work/cold"
cold=$(seconds_of "$work/cold.log" build "$work/cold" "$work/cold-build.log")
cold_fuzz=$(seconds_of "$work/cold-fuzz.log" bash -c "cd '$work/cold' && CXX=clang++ CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCANOPY_FUZZ=ON >/dev/null && cmake --build build-fuzz")

echo "build-times: warm build of a clone in another folder ..." >&2
git clone -q "$root" "$work/warm"
ccache -z >/dev/null
warm=$(seconds_of "$work/warm.log" build "$work/warm" "$work/warm-build.log")
hits=$(ccache --print-stats | awk -F'\t' '$1=="direct_cache_hit"||$1=="preprocessed_cache_hit"{h+=$2} $1=="cache_miss"{m+=$2} END{printf "%d of %d", h, h+m}')

echo "build-times: one touched server file ..." >&2
# A real code change: a comment alone would be a compiler-cache hit.
echo "[[maybe_unused]] static int touched_at_$(date +%s%N) = 0;" >>"$work/warm/$touched"
incremental=$(seconds_of "$work/incremental.log" cmake --build "$work/warm/build")

cores=$(nproc)
section=$(
  cat <<EOF
Measured by \`bench/build_times.sh\` on $(date -u +%Y-%m-%d), $cores cores, every target
(programs, libraries, tests, benchmarks) in RelWithDebInfo (-O2, line tables).

| build | wall time | goal |
|---|---|---|
| cold: fresh clone, empty compiler cache | $(printf '%.0f' "$cold") s | ≤ 900 s |
| cold: the clang fuzz targets (\`make test\` builds them too) | $(printf '%.0f' "$cold_fuzz") s | |
| warm: a clone in another folder, cache filled by the cold build | $(printf '%.0f' "$warm") s ($hits compilations from the cache) | ≤ 180 s |
| incremental: \`$touched\` changed, rebuilt and relinked | $(printf '%.1f' "$incremental") s | ≤ 30 s |
EOF
)
# Replace the text between the section's markers (or append the section).
markdown="$root/docs/benchmarks.md"
awk -v content="$section" '
  /<!-- build-times:begin -->/ { print; print content; skipping = 1; found = 1; next }
  /<!-- build-times:end -->/ { skipping = 0 }
  !skipping { print }
  END { if (!found) { print ""; print "<!-- build-times:begin -->"; print content; print "<!-- build-times:end -->" } }
' "$markdown" >"$markdown.tmp" && mv "$markdown.tmp" "$markdown"
echo "$section"
