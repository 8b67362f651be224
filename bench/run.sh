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
"$root/$build_dir/bench/tls_bench" --canopy "$root/$build_dir/apps/canopy" \
  --work "$root/$build_dir/bench-work" --markdown "$root/docs/benchmarks.md"
# The dashboard's devices page in Chromium with 10,000 devices (about a minute).
"$root/$build_dir/bench/dashboard_bench" --canopy "$root/$build_dir/apps/canopy" --script "$root/bench/dashboard_bench.mjs" \
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
# A detector trained briefly on the field renderer's images (about 5 minutes, kept in bench-work), for the alert bench.
alert_detector="$root/$build_dir/bench-work/alert-detector"
if [ ! -f "$alert_detector/run/package/canopy.json" ]; then
  rm -rf "$alert_detector" && mkdir -p "$alert_detector"
  "$root/$build_dir/apps/canopy" dataset generate --out "$alert_detector/train" --images 1500 --seed 1 -q
  "$root/$build_dir/apps/canopy" dataset generate --out "$alert_detector/val" --images 200 --seed 2 -q
  "$root/$build_dir/apps/canopy-train" train --data "$alert_detector/train" --val "$alert_detector/val" \
    --out "$alert_detector/run" --epochs 3 --batch 16 --seed 0
fi
"$root/$build_dir/bench/alert_quality_bench" --model "$alert_detector/run/package" \
  --work "$root/$build_dir/bench-work" --markdown "$root/docs/benchmarks.md"
"$root/$build_dir/bench/selection_bench" --model "$alert_detector/run/package" \
  --work "$root/$build_dir/bench-work" --markdown "$root/docs/benchmarks.md"
"$root/$build_dir/bench/labeling_bench" --samples 100000 --work "$root/$build_dir/bench-work" \
  --markdown "$root/docs/benchmarks.md"
# The closed loop: retrains from the alert detector on hard cases and on random samples (about an hour).
"$root/$build_dir/bench/loop_bench" --model "$alert_detector/run/package" --train-data "$alert_detector/train" \
  --val-data "$alert_detector/val" --canopy-train "$root/$build_dir/apps/canopy-train" \
  --work "$root/$build_dir/bench-work" --markdown "$root/docs/benchmarks.md"
