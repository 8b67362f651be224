#!/usr/bin/env bash
# The demo: start a registry, make a signing key, package a real ONNX model
# (a Conv model from Debian's ONNX test data, with its reference input and
# output as golden samples), push it with the same curl command MLOps
# pipelines use, push it again (same version), run the example pipeline
# (examples/agriculture/pipeline.yaml) in a small configuration against the
# registry, promote the detector it trained to production, pull it, run it.
set -euo pipefail
build_dir=${1:-build}
canopy="$(cd "$build_dir" && pwd)/apps/canopy"
root="$(cd "$(dirname "$0")/.." && pwd)"
work=$(mktemp -d /tmp/canopy-demo.XXXXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

step() { printf '\n== %s\n' "$*"; }

step "make the pipeline's signing key pair"
"$canopy" keys generate --out signing

step "start the registry on a free loopback port, trusting that key"
export CANOPY_ADMIN_KEY="demo-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$canopy" server --data data --listen 127.0.0.1:0 --trusted-key signing.pub > server.out 2> server.log &
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
echo
echo "demo finished"
