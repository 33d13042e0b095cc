#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine: installs every package the
# project needs (idempotent), builds, then runs the demo or the test suite.
#
#   scripts/setup.sh demo   # install, build, run a demo trace on stories260K
#   scripts/setup.sh test   # install, build, run every test (what CI runs)
#   scripts/setup.sh deps   # install only
#
# Environment: BUILD_DIR (default build), NNSIGHT_MODELS_DIR (default ../shared/models),
# NNSIGHT_SANITIZE=1 for an ASan+UBSan build (clang, with the fuzz targets).
set -euo pipefail

mode="${1:-demo}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$root/build}"
models_dir="${NNSIGHT_MODELS_DIR:-$root/../shared/models}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# LibTorch 1.13 and friends from Debian. libopenblas0-openmp is essential:
# without it libblas.so.3 is the reference BLAS and fp32 matmul is ~50x slower.
# Never the pthread variant: it oversubscribes the cores against OpenMP.
packages=(
  g++ cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-openmp
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libpcre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-torch python3-numpy python3-jsonschema
  chromium doxygen
  clang-16 clang-tidy-16 libclang-rt-16-dev libomp-16-dev
)

install_deps() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  if dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed"; then
    echo "setup: removing libopenblas0-pthread (fights OpenMP; see docs/ARCHITECTURE.md)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq libopenblas0-pthread
  fi
  as_root update-alternatives --set libblas.so.3-x86_64-linux-gnu \
    /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 >/dev/null
  as_root update-alternatives --set liblapack.so.3-x86_64-linux-gnu \
    /usr/lib/x86_64-linux-gnu/openblas-openmp/liblapack.so.3 >/dev/null
}

build() {
  local extra=()
  # The sanitizer build skips the benchmarks: they are not run under ASan. It uses clang, so the
  # same build also makes the libFuzzer targets (fuzz/, scripts/fuzz.sh); clang 16 for std::source_location.
  if [ "${NNSIGHT_SANITIZE:-0}" = "1" ]; then
    extra+=(-DNNSIGHT_SANITIZE=ON -DNNSIGHT_BUILD_BENCH=OFF -DCMAKE_CXX_COMPILER=clang++-16)
  fi
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DNNSIGHT_MODELS_DIR="$models_dir" "${extra[@]}" >/dev/null
  # Each LibTorch TU needs 0.3-1.2 GB; one job per core is safe on 2 cores / 24 GB.
  ninja -C "$build_dir" -j "$(nproc)"
}

install_deps
case "$mode" in
  deps) ;;
  demo)
    build
    exec "$root/scripts/demo.sh" "$build_dir" "$models_dir"
    ;;
  test)
    build
    cd "$build_dir"
    exec ctest --output-on-failure -j "$(nproc)"
    ;;
  *)
    echo "usage: scripts/setup.sh [demo|test|deps]" >&2
    exit 2
    ;;
esac
