#!/usr/bin/env bash
# The performance regression gate: builds Release, runs the benchmark suite, compares against
# the stored baseline whose machine-and-build fingerprint matches in every field the mode's
# numbers depend on (instruction counts: toolchain, libraries, Valgrind and the target it
# dispatches to, not the host CPU; wall time: the host too), or against a base commit built and
# measured in the same job, prints a table and exits non-zero on a regression over 5%.
#
# Usage: scripts/benchmark_regression.sh [options] [-- extra bench-gate arguments]
#   --instructions     gate on callgrind instruction counts (deterministic; what CI uses)
#   --reduced          only vector_similarity_768d_1000c, spreading_activation_1000n_100i and
#                      decay_calculation_10000m (SIMD versions): the CI set
#   --engine           include the engine benchmarks in instruction mode too (slow: building
#                      the 10K-episode space under Valgrind takes tens of minutes)
#   --no-engine        leave the engine benchmarks out of wall-time mode
#   --base-ref REF     A/B: build REF in a worktree and compare against it, measured in this
#                      job, instead of the stored baselines (falls back to the stored baselines
#                      when REF predates the gate)
#   --baselines FILE   baselines file (default benches/regression/baselines.json)
#   --markdown FILE    also append the result table as Markdown (for a PR comment)
#   --no-history       do not append this run to the history (default tmp/bench_history.sqlite)
#   --force            compare against the closest baseline even when its fingerprint differs
#                      in a field that can change the numbers (labelled FORCED)
# Environment: BUILD_DIR (default build/bench), JOBS (default: nproc), BENCH_PROCESSES (5),
# BENCH_REPETITIONS (3), BENCH_MIN_TIME (0.05).
# Exit codes: 0 pass or not compared, 1 regression, 2 error, 3 noisy (with --fail-on-noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

mode=wall_time
reduced=0
engine_instructions=0
engine_wall=1
base_ref=""
baselines="benches/regression/baselines.json"
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --instructions) mode=instructions ;;
    --reduced) reduced=1 ;;
    --engine) engine_instructions=1 ;;
    --no-engine) engine_wall=0 ;;
    --base-ref) base_ref="$2"; shift ;;
    --baselines) baselines="$2"; shift ;;
    --markdown) extra+=(--markdown "$2"); shift ;;
    --no-history) extra+=(--no-history) ;;
    --force) extra+=(--force) ;;
    --) shift; extra+=("$@"); break ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

build_dir="${BUILD_DIR:-build/bench}"
jobs="${JOBS:-$(nproc)}"
reduced_filter='^(vector_similarity_768d_1000c|spreading_activation_1000n_100i|decay_calculation_10000m)$'

# Configures and builds the gate's targets of the tree at $1 into $2 (more cmake flags after).
build_tree() {
  local src="$1" dir="$2"
  shift 2
  cmake -S "$src" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" \
    > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log" >&2; return 1; }
  local targets=(kernels_bench_gate bench-gate)
  if [[ $reduced -eq 0 ]]; then targets+=(engine_bench); fi
  ninja -C "$dir" -j "$jobs" "${targets[@]}"
}

mkdir -p "$(dirname "$build_dir")" tmp
echo "== building Release in $build_dir"
build_tree "$root" "$build_dir"

gate="$build_dir/apps/bench-gate/bench-gate"
benches=(--bench "$build_dir/benches/regression/kernels_bench_gate")
filter="."
if [[ $reduced -eq 1 ]]; then
  filter="$reduced_filter"
elif [[ $mode == wall_time && $engine_wall -eq 1 ]] || [[ $mode == instructions && $engine_instructions -eq 1 ]]; then
  benches+=(--bench "$build_dir/benches/engine/engine_bench")
fi

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then commit="$commit-dirty"; fi

args=(run --mode "$mode" "${benches[@]}" --filter "$filter" --commit "$commit"
      --baselines "$baselines" --processes "${BENCH_PROCESSES:-5}"
      --repetitions "${BENCH_REPETITIONS:-3}" --min-time "${BENCH_MIN_TIME:-0.05}"
      --work-dir tmp/benchgate)

if [[ -n $base_ref ]]; then
  base_commit=$(git rev-parse --verify "$base_ref^{commit}")
  base_src="$build_dir-base-src"
  base_build="$build_dir-base"
  echo "== A/B: building the base $base_ref ($base_commit) in $base_build"
  git worktree remove --force "$base_src" > /dev/null 2>&1 || rm -rf "$base_src"
  git worktree add --detach "$base_src" "$base_commit" > /dev/null
  if [[ -f "$base_src/benches/regression/fixed_iterations.cc" ]] && build_tree "$base_src" "$base_build" -DENGRAM_BUILD_TESTS=OFF; then
    base_benches=()
    for ((i = 1; i < ${#benches[@]}; i += 2)); do
      base_benches+=(--baseline-bench "${benches[$i]/#$build_dir/$base_build}")
    done
    args+=("${base_benches[@]}" --label "ab:$base_commit")
  else
    echo "== the base predates the gate (or does not build): comparing against $baselines instead"
  fi
  git worktree remove --force "$base_src" > /dev/null 2>&1 || true
fi

echo "== $mode gate: $gate ${args[*]} ${extra[*]}"
set +e
"$gate" "${args[@]}" "${extra[@]}"
status=$?
set -e
if [[ $status -eq 1 ]]; then
  echo "== FAILED: a benchmark regressed by more than the threshold (see the table above)."
  echo "   Raw outputs: tmp/benchgate/. Guide: docs/internal/performance_regression_guide.md"
fi
exit $status
