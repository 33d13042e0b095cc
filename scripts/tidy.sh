#!/usr/bin/env bash
# clang-tidy (checks in .clang-tidy) on the C++ files changed since a revision,
# or on the files given. Needs a configured build dir for compile_commands.json.
#   scripts/tidy.sh [--build DIR] [--since REV | FILE...]
# clang-tidy-16: clang 14's front end lacks std::source_location, which the
# graph headers use.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
since=""
files=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --since) since="$2"; shift 2 ;;
    *) files+=("$1"); shift ;;
  esac
done
if [[ -n "$since" ]]; then
  mapfile -t files < <(git diff --name-only --diff-filter=AM "$since" -- src apps examples bench | grep '\.cpp$' || true)
fi
[[ ${#files[@]} -gt 0 ]] || { echo "tidy: no files" >&2; exit 0; }
[[ -f "$build/compile_commands.json" ]] || { echo "tidy: no $build/compile_commands.json (configure first)" >&2; exit 1; }
status=0
for f in "${files[@]}"; do
  # As in the clang build (CMakeLists.txt): LibTorch 1.13's headers need IValue complete under clang.
  out=$(clang-tidy-16 -p "$build" --quiet --extra-arg=-include --extra-arg=ATen/core/ivalue.h "$f" 2>/dev/null | grep -E '(warning|error):' || true)
  if [[ -n "$out" ]]; then echo "$out"; status=1; fi
done
exit $status
