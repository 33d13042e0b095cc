#!/usr/bin/env bash
# Runs every libFuzzer target (fuzz/, docs/fuzzing.md) for a bounded time on
# seed corpora made from the test models; exits non-zero on any finding.
#
#   scripts/fuzz.sh [SECONDS]     # per target, default 30 (8 targets: 4 min)
#
# Environment: BUILD_DIR (default build-asan: the clang sanitizer build, which
# builds the fuzz targets), NNSIGHT_MODELS_DIR (default ../shared/models),
# FUZZ_TARGETS (default: all), FUZZ_CORPUS (default BUILD_DIR/fuzz-corpus; new
# inputs found accumulate there across runs).
set -euo pipefail

seconds="${1:-30}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$root/build-asan}"
models_dir="${NNSIGHT_MODELS_DIR:-$root/../shared/models}"
corpus="${FUZZ_CORPUS:-$build_dir/fuzz-corpus}"
targets=(${FUZZ_TARGETS:-graph_json tensor_blob safetensors gguf llama2c tokenizer_files llama2c_tokenizer tokenizer_encode})

if [ ! -x "$build_dir/fuzz/fuzz_graph_json" ]; then
  echo "fuzz: no fuzz targets in $build_dir; build with NNSIGHT_SANITIZE=1 BUILD_DIR=$build_dir scripts/setup.sh test" >&2
  exit 2
fi

# Seeds, made fresh each run from the models and the sample graphs of tests/format.
rm -rf "$corpus/seeds"
python3 "$root/fuzz/make_seeds.py" "$models_dir" "$corpus/seeds"
"$build_dir/fuzz/make_graph_seeds" "$corpus/seeds/graph_json" "$corpus/seeds/tensor_blob" >/dev/null

export NNSIGHT_MODELS_DIR="$models_dir"
# Leaks are findings; UBSan already aborts on the first report (-fno-sanitize-recover).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# LibTorch's intra-op pool: one thread keeps runs reproducible and cheap.
export OMP_NUM_THREADS=1

failed=()
summary=()
for t in "${targets[@]}"; do
  mkdir -p "$corpus/$t" "$corpus/artifacts"
  log="$corpus/$t.log"
  echo "fuzz: $t for ${seconds}s"
  # -timeout: one input over 20 s is a finding (a hang); -malloc_limit_mb: so is one allocation
  # over 512 MB (sizes from headers must be checked before allocating).
  if "$build_dir/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=512 \
      -print_final_stats=1 -artifact_prefix="$corpus/artifacts/$t-" "$corpus/$t" "$corpus/seeds/$t" >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$t")
    echo "---- fuzz_$t failed; last lines of $log:"
    tail -n 60 "$log"
    for a in "$corpus/artifacts/$t-"*; do
      [ -f "$a" ] || continue
      echo "---- reproducer $a ($(stat -c %s "$a") bytes), base64 (replay: $build_dir/fuzz/fuzz_$t FILE):"
      head -c 4096 "$a" | base64
    done
  fi
  execs=$(grep -a -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | awk '{print $2}')
  rate=$(grep -a -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | awk '{print $2}')
  cov=$(grep -a -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  units=$(find "$corpus/$t" -type f | wc -l)
  summary+=("$(printf '%-18s %-6s %9s execs %6s/s  %-22s corpus %s' "$t" "$status" "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}" "$units")")
done

echo "fuzz summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (reproducers in $corpus/artifacts)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s each without a finding"
