#!/usr/bin/env bash
# The demo: start a registry, make a signing key, package a real ONNX model
# (a Conv model from Debian's ONNX test data, with its reference input and
# output as golden samples), push it with the same curl command MLOps
# pipelines use, push it again (same version), run the example pipeline
# (examples/agriculture/pipeline.yaml) in a small configuration against the
# registry, promote the detector it trained to production, pull it, run it.
# Then the fleet: 20 simulated devices in three fields (real canopy-agent
# processes behind a lossy network, `canopy sim`), the detector rolled out
# canary -> waves, a broken model that stops its own rollout and leaves
# every device on the good one. Then one field device running the field
# loop: frames dropped into its camera spool, soil and air sensor files, a
# valve hook; the valve opens on dry soil and closes when it is wet, a failed
# soil probe raises an alert, and the server shows it all (a plant alert too
# when the demo's small detector finds a sick plant). Then four devices on
# simulated fields (`canopy sim --world`) for three virtual days in about a
# minute: irrigation cycles on the world's soil, a dead probe's alert, a day
# offline and the catch-up. Then the loop: a model in four simulated fields,
# drift in one of them, the drift monitor's alert, the hard cases labeled by
# the simulation's oracle, a retrain by `canopy worker`, and the challenger
# promoted and rolled out. And a summary.
set -euo pipefail
build_dir=${1:-build}
canopy="$(cd "$build_dir" && pwd)/apps/canopy"
agent="$(cd "$build_dir" && pwd)/apps/canopy-agent"
root="$(cd "$(dirname "$0")/.." && pwd)"
work=$(mktemp -d /tmp/canopy-demo.XXXXXX)
server_pid=
sim_pid=
field_pid=
world_server_pid=
loop_server_pid=
cleanup() {
  # The simulator first: on SIGTERM it stops its agents.
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  [ -n "$field_pid" ] && kill "$field_pid" 2>/dev/null && wait "$field_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$world_server_pid" ] && kill "$world_server_pid" 2>/dev/null && wait "$world_server_pid" 2>/dev/null
  [ -n "$loop_server_pid" ] && kill "$loop_server_pid" 2>/dev/null && wait "$loop_server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

step() { printf '\n== %s\n' "$*"; }

step "make the pipeline's signing key pair"
"$canopy" keys generate --out signing

step "start the registry on a free loopback port, trusting that key (devices poll every 2 s)"
export CANOPY_ADMIN_KEY="demo-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$canopy" server --data data --listen 127.0.0.1:0 --trusted-key signing.pub --poll-interval 2 \
  > server.out 2> server.log &
server_pid=$!
for _ in $(seq 50); do grep -q "^listening on" server.out 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' server.out)
[ -n "$url" ] || { cat server.log; exit 1; }
echo "registry at $url"
export CANOPY_SERVER="$url" CANOPY_API_KEY="$CANOPY_ADMIN_KEY"

step "create a publisher API key for the pipeline"
API_KEY=$("$canopy" keys create --role publisher --name demo-pipeline 2>/dev/null)
echo "publisher key created"

step "package an ONNX model with golden samples"
testdata=/usr/share/libonnx-testdata/data/node/test_basic_conv_with_padding
mkdir -p models
"$canopy" package init models/crop-disease-detector --model "$testdata/model.onnx" \
  --name crop-disease-detector --labels healthy,diseased,water_stressed --input 1x1x5x5 \
  --golden "$testdata/test_data_set_0/input_0.pb:$testdata/test_data_set_0/output_0.pb"

step "deploy step as a pipeline writes it: zip -r, then curl -T"
zip -qr /tmp/canopy-demo-model.zip models/crop-disease-detector
MODEL_REPOSITORY="$url/repository"
curl -sS --fail-with-body -H "X-API-KEY:$API_KEY" -T /tmp/canopy-demo-model.zip "$MODEL_REPOSITORY/model.zip" \
  | grep -E '"(model|version|created|signed_by)"'
echo "-- the same bytes again: still version 1"
curl -sS --fail-with-body -H "X-API-KEY:$API_KEY" -T /tmp/canopy-demo-model.zip "$MODEL_REPOSITORY/model.zip" \
  | grep -E '"(version|created)"'
rm -f /tmp/canopy-demo-model.zip

step "a signed package from the CLI (version 2)"
"$canopy" package create models/crop-disease-detector -o signed.zip --sign signing.key
"$canopy" package verify signed.zip --key signing.pub
sed -i 's/"description": ""/"description": "demo, signed by the pipeline key"/' models/crop-disease-detector/canopy.json
"$canopy" package create models/crop-disease-detector -o signed.zip --sign signing.key
"$canopy" model push signed.zip --server "$url" --api-key "$API_KEY"

step "run the example pipeline: field data -> train -> evaluate -> gates -> package -> curl upload"
# A small configuration (about a minute on 2 cores); the defaults are the full one.
# The steps call canopy and canopy-train from PATH; the runner records the run
# on the registry (CANOPY_SERVER) and the deploy step uploads with the publisher key.
PATH="$(dirname "$canopy"):$PATH" API_KEY="$API_KEY" MODEL_REPOSITORY="$MODEL_REPOSITORY" \
  "$canopy" pipeline run "$root/examples/agriculture/pipeline.yaml" --workspace pipeline-workspace \
  --param images=96 --param val_images=24 --param epochs=10 --param img=160 --param width=0.25 \
  --param batch=8 --param min_map50=0 --param max_drop=1
run_id=$(ls pipeline-workspace/runs | tail -n 1)
echo "-- the run as the registry recorded it, linked to the model version it produced"
"$canopy" run show "$run_id"

step "promote the pipeline's trained detector (the latest version) to production and list"
latest=$("$canopy" model list --json | grep -o '"latest_version": *[0-9]*' | grep -o '[0-9]*$')
"$canopy" model alias set crop-disease-detector "$latest" production
"$canopy" model list
"$canopy" model show crop-disease-detector@production

step "pull it back and verify against the server's publishing key"
"$canopy" model pull crop-disease-detector@production -o pulled.zip
"$canopy" package verify pulled.zip --key data/keys/publisher.pub

step "run it on the edge inference engine (oneDNN here, XNNPACK on ARM)"
"$canopy" dataset generate --out field --images 2 --seed 7 -q
"$canopy" infer pulled.zip field/images/000000.jpg --draw annotated
"$canopy" bench infer pulled.zip --runs 20 --warmup 5

fleet_started=$(date +%s)
step "fleet: an enrollment token for 20 devices"
fleet_token=$("$canopy" enroll-token create --group fields --uses 20 --expires 1h)

step "fleet: 20 simulated devices in three fields, real canopy-agent processes behind a lossy network"
# 30 ms per chunk, 3% of connections cut, 4 Mbit/s per device; devices 18-20
# lose their network from 8 s to 40 s; device 1 is killed mid-install once.
"$canopy" sim --devices 20 --fields 3 --server "$url" --enroll-token "$fleet_token" --dir fleet \
  --latency-ms 30 --drop-rate 0.03 --bandwidth-kbps 4000 --offline 18-20:8:40 --crash-during-install 1 \
  --progress-interval 10 > sim.log 2>&1 &
sim_pid=$!
enrolled=0
for _ in $(seq 150); do
  enrolled=$("$canopy" device list --group fields | tail -n +2 | wc -l)
  [ "$enrolled" -ge 20 ] && break
  kill -0 "$sim_pid" 2>/dev/null || { cat sim.log; exit 1; }
  sleep 0.2
done
[ "$enrolled" -ge 20 ] || { echo "only $enrolled devices enrolled"; cat sim.log; exit 1; }
"$canopy" device list --group fields

deployment_id() { grep -o '"id": *[0-9]*' | head -n 1 | grep -o '[0-9]*$'; }
rollout="--group fields --canary 2 --waves 50%,100% --soak 5s"

step "fleet: roll the production detector out: canary of 2, then 50% and 100%, 5 s soak each"
# shellcheck disable=SC2086  # $rollout is a list of flags
good=$("$canopy" deploy create --model crop-disease-detector --alias production $rollout --json | deployment_id)
"$canopy" deploy status "$good" --watch --interval 5s
echo "-- what the simulator saw meanwhile"
grep -E "killed|restarted|lost its network|back online" sim.log || true

step "fleet: a broken model: the same detector, repackaged with golden outputs it does not produce"
mkdir -p broken-src
unzip -q pulled.zip -d broken-src
broken_dir=$(dirname "$(find broken-src -name canopy.json | head -n 1)")
rm -f "$broken_dir/canopy.sig"
# The first golden sample's expected output ends with a float of 1e6 (the
# raw data ends the TensorProto), a value the detector never gives.
first_output=$(find "$broken_dir" -name 'output_*.pb' | sort | head -n 1)
printf '\x00\x24\x74\x49' | dd of="$first_output" bs=1 seek=$(($(stat -c %s "$first_output") - 4)) conv=notrunc 2>/dev/null
sed -i 's/"description": "[^"]*"/"description": "broken: golden outputs that do not match"/' "$broken_dir/canopy.json"
"$canopy" package create "$broken_dir" -o broken.zip --sign signing.key
broken=$("$canopy" model push broken.zip --server "$url" --api-key "$API_KEY" --json | grep -o '"version": *[0-9]*' | head -n 1 | grep -o '[0-9]*$')
echo "broken model is crop-disease-detector:$broken"

step "fleet: deploy it the same way; the canary's health checks fail and the rollout stops itself"
# shellcheck disable=SC2086
bad=$("$canopy" deploy create --model crop-disease-detector --version "$broken" $rollout --json | deployment_id)
if "$canopy" deploy status "$bad" --watch --interval 5s; then
  echo "the broken model was not stopped"; exit 1
fi
echo "-- the watch ends with exit code 1: the rollout stopped itself"

step "fleet: every device still runs the good model"
"$canopy" device list --group fields
on_good=$("$canopy" device list --group fields | grep -c "crop-disease-detector:$latest ") || true
[ "$on_good" -eq 20 ] || { echo "only $on_good of 20 devices run crop-disease-detector:$latest"; exit 1; }

step "field: a device with a camera spool, soil and air sensor files and a valve hook"
field_started=$(date +%s)
fd="$work/field-device"
mkdir -p "$fd/spool"
echo 0.15 > "$fd/soil"     # dry: θ below loam's start threshold
echo 21500 > "$fd/air"     # hwmon thousandths: 21.5 °C
cat > "$fd/valve.sh" <<'EOF'
#!/bin/sh
# A relay board's tool would switch the valve here.
echo "$(date +%T) valve $1" >> "$(dirname "$0")/valve.log"
EOF
chmod +x "$fd/valve.sh"
cat > "$fd/field.yaml" <<EOF
field: north
location: {latitude: 41.6}
cameras:
  - {id: row-1, spool: $fd/spool, interval: 1s, zone: north}
sensors:
  - {name: soil-north, measures: soil_moisture, file: $fd/soil, period: 1s, range: [0, 0.6]}
  - {name: air, measures: air_temperature, hwmon: $fd/air, period: 1s}
zones:
  - {name: north, soil: loam, soil_sensor: soil-north, max_on: 30s, min_off: 5s, valve: {command: [$fd/valve.sh]}}
tracking: {window: 4, agree: 3}
telemetry: {period: 5s}
EOF
sed "s|$work/||g" "$fd/field.yaml"
field_token=$("$canopy" enroll-token create --group north-field --uses 1 --expires 1h)
"$agent" run --server "$url" --data-dir "$fd/data" --enroll-token "$field_token" \
  --name north-field-1 --field-config "$fd/field.yaml" > "$fd/agent.log" 2>&1 &
field_pid=$!
field_id=
for _ in $(seq 100); do
  field_id=$("$agent" status --data-dir "$fd/data" --json 2>/dev/null \
    | grep -o '"device_id": *"[0-9a-f]*"' | grep -o '[0-9a-f]\{8,\}') || true
  [ -n "$field_id" ] && "$canopy" device list --group north-field | grep -q "$field_id" && break
  kill -0 "$field_pid" 2>/dev/null || { cat "$fd/agent.log"; exit 1; }
  sleep 0.2
done
[ -n "$field_id" ] || { cat "$fd/agent.log"; exit 1; }
echo "field device $field_id enrolled"

step "field: roll the production detector out to it"
field_deploy=$("$canopy" deploy create --model crop-disease-detector --alias production --group north-field --json \
  | deployment_id)
"$canopy" deploy status "$field_deploy" --watch --interval 2s

step "field: its camera sees one scene again and again; the soil dries, is watered, then its probe fails"
"$canopy" dataset generate --out scenes --images 16 --seed 11 -q
# A scene where the detector finds a sick plant if it finds any (the demo's
# small detector often does not); else the first one.
scene=$("$canopy" infer pulled.zip scenes/images/*.jpg \
  | awk -F'\t' '!found && ($2 == "diseased" || $2 == "water_stressed") {print $1; found = 1}')
[ -n "$scene" ] || scene=scenes/images/000000.jpg
"$canopy" infer pulled.zip "$scene" > scene-detections.txt
head -n 5 scene-detections.txt
for i in $(seq 10); do
  # As a camera writes: under a hidden name, then renamed into the spool.
  cp "$scene" "$fd/spool/.frame.jpg" && mv "$fd/spool/.frame.jpg" "$fd/spool/frame-$i.jpg"
  [ "$i" -eq 5 ] && echo 0.27 > "$fd/soil"   # the irrigation has wetted the soil
  [ "$i" -eq 8 ] && echo nan > "$fd/soil"    # the probe fails
  sleep 1
done

step "field: what the server has from the device"
for _ in $(seq 50); do
  # The probe's alert, and the valve opened and closed again.
  "$canopy" alerts list --device "$field_id" | grep -q "soil-north" \
    && "$canopy" device irrigation "$field_id" | grep -q " open " \
    && "$canopy" samples list --device "$field_id" | grep -q "$field_id/" && break
  sleep 0.4
done
"$canopy" alerts list --device "$field_id"
"$canopy" device irrigation "$field_id"
"$canopy" device readings "$field_id" --limit 4
"$canopy" device plants "$field_id" --limit 5
"$canopy" device telemetry "$field_id" --limit 1
echo "-- the valve hook saw:"
cat "$fd/valve.log"
echo "-- the frames its hard-case selection kept: the first view is new, the same view again is a near-duplicate"
"$canopy" samples list --device "$field_id"
"$canopy" samples stats
field_samples=$("$canopy" samples list --device "$field_id" | grep -c "$field_id/") || true
[ "$field_samples" -ge 1 ] || { echo "no sample reached the server"; tail -n 30 "$fd/agent.log"; exit 1; }
field_alerts=$("$canopy" alerts list --device "$field_id" | tail -n +2 | wc -l)
plant_alerts=$("$canopy" alerts list --device "$field_id" | grep -c -E "diseased|water-stressed") || true
field_openings=$(grep -c "valve on" "$fd/valve.log") || true
[ "$field_alerts" -ge 1 ] || { echo "no alert reached the server"; tail -n 30 "$fd/agent.log"; exit 1; }
[ "$field_openings" -ge 1 ] || { echo "the valve never opened"; tail -n 30 "$fd/agent.log"; exit 1; }

step "labeling: the kept frames wait in a queue; a person labels them in the browser"
printf 'field-labels-2026\n' | "$canopy" user add ana --role labeler
echo "-- open $url/label/ and sign in as ana (password field-labels-2026) to label the queue:"
"$canopy" label stats
labeled_one=$(
  curl -sS --fail-with-body -H "X-API-KEY:$CANOPY_ADMIN_KEY" -X POST -d '{}' "$url/api/v1/labeling/next" \
    | grep -o '"sample_id": *"[^"]*"' | head -n 1 | sed 's/.*: *"//; s/"$//')
# Here the admin key confirms the first task as a labeler would: its model's boxes, accepted.
[ -n "$labeled_one" ] && curl -sS --fail-with-body -H "X-API-KEY:$CANOPY_ADMIN_KEY" \
  -d '{"boxes": [{"label": "diseased", "score": 1, "x1": 0.1, "y1": 0.1, "x2": 0.3, "y2": 0.3}]}' \
  "$url/api/v1/labeling/tasks/$labeled_one/submit" > /dev/null
echo "-- the scenes the camera showed, imported as a base dataset; a version of them and the labeled frame:"
"$canopy" dataset version import scenes --name base -q
"$canopy" dataset version create field --base base:1 --label healthy --label diseased --label water_stressed
"$canopy" dataset version pull field:1 --out field-dataset -q
"$canopy" dataset stats field-dataset

step "world: four devices on simulated fields, three virtual days at 4320x"
# The fleet simulation and the field device are done: their CPU goes to the worlds.
kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
sim_pid=
kill "$field_pid" 2>/dev/null && wait "$field_pid" 2>/dev/null || true
field_pid=
# A server of its own whose devices poll once a virtual hour (the agents
# follow the simulation's clock; the first server tells devices 2 s).
"$canopy" server --data world-data --listen 127.0.0.1:0 --trusted-key signing.pub --poll-interval 3600 \
  > world-server.out 2> world-server.log &
world_server_pid=$!
for _ in $(seq 50); do grep -q "^listening on" world-server.out 2>/dev/null && break; sleep 0.1; done
world_url=$(sed -n 's/^listening on //p' world-server.out)
[ -n "$world_url" ] || { cat world-server.log; exit 1; }
world_token=$("$canopy" enroll-token create --server "$world_url" --group world --uses 4 --expires 1h)
# Sand (odd devices) and loam (even) from 2026-06-01; device 1 loses its
# network for the second day; device 3's soil probe is gone from hour 30 to 36.
world_started=$(date +%s)
"$canopy" sim --devices 4 --server "$world_url" --enroll-token "$world_token" --dir world --world \
  --speed 4320 --start 2026-06-01 --duration 259200 --offline 1:86400:172800 \
  --sensor-fault 3:soil-zone-1:dead:30:36 --progress-interval 43200 > world.log 2>&1 \
  || { cat world.log; exit 1; }
cat world.log
world_id() {
  "$agent" status --data-dir "world/device-$1" --json | grep -o '"device_id": *"[0-9a-f]*"' | grep -o '[0-9a-f]\{8,\}'
}
offline_id=$(world_id 1)
probe_id=$(world_id 3)
echo "-- device 1 ($offline_id) watered its sand while offline on 2026-06-02; the records came in when it was back:"
"$canopy" device irrigation "$offline_id" --server "$world_url" --limit 1000 | grep -E "^AT|2026-06-02"
offline_actuations=$("$canopy" device irrigation "$offline_id" --server "$world_url" --limit 1000 \
  | grep -c "^2026-06-02") || true
echo "-- device 3 ($probe_id): its probe's alert"
"$canopy" alerts list --device "$probe_id" --server "$world_url"
world_alerts=$("$canopy" alerts list --device "$probe_id" --server "$world_url" | grep -c "soil-zone-1") || true
world_openings=$(grep -o "valve opened [0-9]* times" world.log | awk '{s += $3} END {print s + 0}')
[ "$offline_actuations" -ge 1 ] || { echo "no valve record from device 1's day offline reached the server"; exit 1; }
[ "$world_alerts" -ge 1 ] || { echo "device 3's dead probe raised no alert on the server"; exit 1; }
[ "$world_openings" -ge 2 ] || { echo "the worlds' valves opened $world_openings times"; exit 1; }

step "loop: a model in the field, drift in one field, hard cases labeled, a retrain by a worker, rolled out again"
loop_started=$(date +%s)  # also where the world part ended
# A server of its own whose drift windows are a virtual day, and the first
# model trained by the example pipeline as production.
"$canopy" server --data loop-data --listen 127.0.0.1:0 --poll-interval 3600 --drift-window 86400 \
  > loop-server.out 2> loop-server.log &
loop_server_pid=$!
for _ in $(seq 50); do grep -q "^listening on" loop-server.out 2>/dev/null && break; sleep 0.1; done
loop_url=$(sed -n 's/^listening on //p' loop-server.out)
[ -n "$loop_url" ] || { cat loop-server.log; exit 1; }
loop() { CANOPY_SERVER="$loop_url" "$canopy" "$@"; }
tools="$(dirname "$canopy"):$PATH"
PATH="$tools" CANOPY_SERVER="$loop_url" API_KEY="$CANOPY_ADMIN_KEY" MODEL_REPOSITORY="$loop_url/repository" \
  "$canopy" pipeline run "$root/examples/agriculture/pipeline.yaml" --workspace loop-first -q \
  --param images=96 --param val_images=24 --param epochs=10 --param img=160 --param width=0.25 \
  --param batch=8 --param min_map50=0 --param max_drop=1 > loop-first.log
"$canopy" model alias set crop-disease-detector 1 production --server "$loop_url"
loop_token=$("$canopy" enroll-token create --server "$loop_url" --group loop --uses 4 --expires 1h)
"$canopy" deploy create --server "$loop_url" --model crop-disease-detector --alias production --group loop \
  --allow-empty > /dev/null
echo "-- 4 devices in two fields for two virtual days; from the second day the south field's plants are a new variety"
loop_sim() {
  "$canopy" sim --devices 4 --fields 2 --server "$loop_url" --enroll-token "$loop_token" --dir loop-world --world \
    --speed 1440 --frame-interval 300 --drift 2:1:new-variety --drift 4:1:new-variety --progress-interval 86400 "$@"
}
loop_sim --start 2026-06-01 --duration 172800 > loop-sim.log 2>&1 || { cat loop-sim.log; exit 1; }
echo "-- the devices kept their hard cases; the oracle labels them from the world's truth"
loop samples stats | head -n 1
loop label auto --oracle loop-world | tail -n 2
echo "-- the drift monitor: each model version and field, its reference day against its latest day"
loop drift
echo "-- the retrain policy: on drift, the south field's labels, promoted automatically to the whole group"
cat > loop-policy.json <<'EOF2'
{"min_new_labels": 0, "on_drift": true, "field": "south", "min_interval_s": 0,
 "promotion": "automatic", "target": {"group": "loop"},
 "parameters": {"replay": 48, "val_images": 24, "epochs": 6, "img": 160, "width": 0.25, "batch": 8,
                "max_drop": 1, "min_gain": 0.02, "max_forgetting": 0.05}}
EOF2
loop retrain policy crop-disease-detector --file loop-policy.json > /dev/null
echo "-- a worker claims the job the drift queued and runs examples/agriculture/retrain.yaml"
PATH="$tools" loop worker --pipeline "$root/examples/agriculture/retrain.yaml" --workspace loop-worker --once \
  > loop-worker.log 2>&1 || { cat loop-worker.log; exit 1; }
grep -E "^job|^gate .*\(" loop-worker.log
echo "-- the devices come back for four virtual hours and install the promoted challenger"
loop_sim --duration 14400 > loop-sim-2.log 2>&1 || { cat loop-sim-2.log; exit 1; }
loop retrain jobs
loop device list
loop_promoted=$(loop device list | grep -c "crop-disease-detector:2 ") || true
[ "$loop_promoted" -eq 4 ] || { echo "only $loop_promoted of 4 devices run the retrained model"; exit 1; }
echo "-- where the new version came from"
loop lineage crop-disease-detector:2 | grep -E '"(job|run|parent|dataset|reason)"'
# The numbers the gates compared: both versions on both holdouts.
gate_number() { sed -n "s/.*$1\.map50 = \([0-9.]*\).*/\1/p" loop-worker.log | head -n 1; }
loop_field_before=$(gate_number production_field)
loop_field_after=$(gate_number challenger_field)
loop_original_before=$(gate_number production_original)
loop_original_after=$(gate_number challenger_original)
loop_labels=$(loop label stats | grep -o ' labeled [0-9]*' | grep -o '[0-9]*$')
loop_upload=$(loop samples stats | head -n 1 | grep -o '[0-9.]* [KMG]iB')
# In the build folder: the work folder goes when the demo ends.
loop_plot="$(dirname "$(dirname "$canopy")")/demo-loop.png"
printf '"south field holdout (drifted)" %s %s\n"original validation set" %s %s\n' \
  "$loop_field_before" "$loop_field_after" "$loop_original_before" "$loop_original_after" > loop-plot.dat
gnuplot -e "set terminal png size 720,420; set termoption noenhanced; set output '$loop_plot';
  set title 'mAP@0.5 before and after the retrain ($loop_labels labeled samples, $loop_upload of images uploaded)';
  set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8 border -1;
  set yrange [0:1]; set ylabel 'mAP@0.5'; set key top right; set grid ytics;
  plot 'loop-plot.dat' using 2:xtic(1) title 'crop-disease-detector:1 (production)',
       '' using 3 title 'crop-disease-detector:2 (retrained)'"
echo "-- the plot: $loop_plot"

step "summary"
"$canopy" deploy list
echo "-- $on_good of 20 devices run crop-disease-detector:$latest; deployment $good completed,"
echo "   deployment $bad (version $broken) stopped by its canary: $("$canopy" deploy status "$bad" | sed -n 's/^reason: //p')"
echo "-- the simulator: $(grep "agents running" sim.log | tail -n 1 | sed 's/^sim *[0-9]*s: //')"
echo "-- fleet part took $(( field_started - fleet_started )) s"
echo "-- field device $field_id: $field_alerts alert(s) on the server ($plant_alerts about plants); the valve opened"
echo "   $field_openings time(s) on dry soil and closed when it was wet; $field_samples frame(s) of 10 kept as samples;"
echo "   field part took $(( world_started - field_started )) s"
echo "-- world: 3 virtual days on 4 simulated fields in $(( loop_started - world_started )) s: valves opened $world_openings times"
echo "   in all; device 1 sent $offline_actuations valve records made during its day offline once back; device 3's"
echo "   dead probe raised $world_alerts alert(s); the truth of every field is in world/truth"
echo "-- loop: the south field drifted and the monitor raised it; $loop_labels samples ($loop_upload of images) were"
echo "   labeled; a worker retrained: mAP@0.5 on the south field's holdout $loop_field_before -> $loop_field_after, on the"
echo "   original validation set $loop_original_before -> $loop_original_after; the challenger rolled out to $loop_promoted"
echo "   devices ($(loop deploy list | awk '$2 == "crop-disease-detector:2" {print $3}')); plot in $loop_plot;"
echo "   loop part took $(( $(date +%s) - loop_started )) s"
echo
echo "demo finished"
