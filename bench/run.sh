#!/usr/bin/env bash
# Runs every benchmark and records the results in docs/benchmarks.md.
set -euo pipefail
build_dir=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/$build_dir/bench/registry_bench" --canopy "$root/$build_dir/apps/canopy" \
  --work "$root/$build_dir/bench-work" --markdown "$root/docs/benchmarks.md"
"$root/$build_dir/bench/publish_load_bench" --canopy "$root/$build_dir/apps/canopy" \
  --work "$root/$build_dir/bench-work" --markdown "$root/docs/benchmarks.md"
"$root/$build_dir/bench/fleet_bench" --canopy "$root/$build_dir/apps/canopy" \
  --work "$root/$build_dir/bench-work" --markdown "$root/docs/benchmarks.md"
"$root/$build_dir/bench/infer_bench" --ort-script "$root/bench/ort_bench.mjs" \
  --work "$root/$build_dir/bench-work" --markdown "$root/docs/benchmarks.md"
"$root/$build_dir/bench/train_bench" --work "$root/$build_dir/bench-work" --markdown "$root/docs/benchmarks.md"
"$root/$build_dir/bench/pipeline_bench" --canopy "$root/$build_dir/apps/canopy" \
  --work "$root/$build_dir/bench-work" --markdown "$root/docs/benchmarks.md"
"$root/$build_dir/bench/field_detector_package" --out "$root/$build_dir/bench-work/field-detector"
"$root/$build_dir/bench/field_loop_bench" --model "$root/$build_dir/bench-work/field-detector/int8" \
  --work "$root/$build_dir/bench-work" --markdown "$root/docs/benchmarks.md"
"$root/$build_dir/bench/irrigation_bench" --work "$root/$build_dir/bench-work" --markdown "$root/docs/benchmarks.md"
