#!/usr/bin/env bash
# The demo run by `scripts/setup.sh demo`: a trace on stories260K (a trained
# tiny Llama), then the CLI inspecting it and generating from two file formats.
set -euo pipefail
build_dir="${1:-build}"
models="${2:-../shared/models}"
nnsight="$build_dir/apps/nnsight"

echo "== demo trace: logit lens, ablation, activation patching (examples/demo_trace.cpp) =="
"$build_dir/examples/demo_trace" "$models"
echo
echo "== nnsight inspect (first lines) =="
"$nnsight" inspect --model "$models/stories260K/stories260K.gguf" | sed -n 1,20p
echo
echo "== nnsight generate: GGUF =="
"$nnsight" generate --model "$models/stories260K/stories260K.gguf" --prompt "Once upon a time" --max-new-tokens 48
echo "== nnsight generate: llama2.c .bin, sampled (temperature 0.8, top-p 0.9, seed 7) =="
"$nnsight" generate --model "$models/stories260K/stories260K.bin" --tokenizer "$models/stories260K/tok512.bin" \
  --prompt "Lily went to the park" --max-new-tokens 48 --temperature 0.8 --top-p 0.9 --seed 7
