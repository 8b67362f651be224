#!/usr/bin/env bash
# Installs the Debian 12 packages Canopy builds and tests with. Idempotent: when
# every package is already installed it only runs dpkg-query and exits.
set -euo pipefail

packages=(
  # toolchain and build
  g++ cmake ninja-build pkg-config make ccache lld
  # core libraries (see docs/dependencies.md for why each one)
  libcurl4-openssl-dev libsodium-dev libarchive-dev libsqlite3-dev libzstd-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libcpp-httplib-dev
  # cpp-httplib's header is built with TLS, zlib and brotli support and includes their headers
  libssl-dev zlib1g-dev libbrotli-dev
  # inference engine: ONNX models, oneDNN (x86-64) and XNNPACK kernels, images
  libonnx-dev libprotobuf-dev protobuf-compiler libdnnl-dev libxnnpack-dev libpthreadpool-dev libopencv-dev libturbojpeg0-dev libpng-dev
  # the field device's hardware: USB cameras (V4L2) and relay lines (GPIO)
  libv4l-dev libgpiod-dev
  # dataset formats: Pascal VOC annotations are XML
  libxml2-dev
  # training (and the libtorch reference in the inference benchmark)
  libtorch-dev
  # tests and benchmarks (clang and its runtime for the libFuzzer target)
  clang libclang-rt-14-dev libgtest-dev libgmock-dev libbenchmark-dev
  # real clients used by integration tests and the demo
  curl zip unzip
  # promtool, which checks the server's /metrics text in tests
  prometheus
  # the server's database read whole by the field outage test (the operator API pages only the newest 1000)
  sqlite3
  # real ONNX models with reference inputs/outputs for the demo and tests
  libonnx-testdata
  # the demo's plot of the closed loop (PNG)
  gnuplot-nox
)

here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=lib/apt.sh
source "$here/lib/apt.sh"
apt_install_missing install-deps "${packages[@]}"
# ONNX Runtime (npm) comes after: it needs node, which it installs if missing.
bash "$here/install-onnxruntime.sh"
# The web pages' libraries (npm), served by the server itself.
bash "$here/install-web.sh"
