#!/usr/bin/env bash
# Re-measures the benchmark suite and rewrites the baselines of this machine-and-build
# fingerprint in benches/regression/baselines.json (other fingerprints' sets are kept), then
# prints what changed so the update can be reviewed before it is committed. The fingerprint
# recorded is the whole of it (format 2.1): host CPU, compiler, flags, build type, the versions
# of the shared libraries the benchmarks load, and Valgrind's version and dispatched target.
#
# Usage: scripts/update_baselines.sh [--mode wall_time|instructions|both] [--reduced]
#                                    [--no-engine] [--baselines FILE] [--dry-run]
#   wall time covers kernels_bench and engine_bench; instruction counts cover kernels_bench
#   (the engine's 10K-episode build is too slow under Valgrind).
# Environment: BUILD_DIR (default build/bench), JOBS (default: nproc), BENCH_PROCESSES (5),
# BENCH_REPETITIONS (3), BENCH_MIN_TIME (0.05).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=both
reduced=0
engine=1
baselines="benches/regression/baselines.json"
dry_run=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mode) mode="$2"; shift ;;
    --reduced) reduced=1 ;;
    --no-engine) engine=0 ;;
    --baselines) baselines="$2"; shift ;;
    --dry-run) dry_run=(--dry-run) ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ -n ${ENGRAM_BENCH_SLOWDOWN:-} ]]; then
  echo "ENGRAM_BENCH_SLOWDOWN is set: refusing to record baselines from a slowed-down build" >&2
  exit 2
fi

build_dir="${BUILD_DIR:-build/bench}"
jobs="${JOBS:-$(nproc)}"
mkdir -p "$(dirname "$build_dir")" tmp
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release > tmp/update_baselines.configure.log 2>&1 || {
  cat tmp/update_baselines.configure.log >&2; exit 2; }
ninja -C "$build_dir" -j "$jobs" kernels_bench_gate engine_bench bench-gate

gate="$build_dir/apps/bench-gate/bench-gate"
kernels="$build_dir/benches/regression/kernels_bench_gate"
engine_bench="$build_dir/benches/engine/engine_bench"
filter="."
if [[ $reduced -eq 1 ]]; then
  filter='^(vector_similarity_768d_1000c|spreading_activation_1000n_100i|decay_calculation_10000m)$'
  engine=0
fi
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then commit="$commit-dirty"; fi
common=(--filter "$filter" --commit "$commit" --baselines "$baselines" --work-dir tmp/benchgate
        --processes "${BENCH_PROCESSES:-5}" --repetitions "${BENCH_REPETITIONS:-3}"
        --min-time "${BENCH_MIN_TIME:-0.05}" "${dry_run[@]}")

cp "$baselines" tmp/baselines.before.json 2> /dev/null || echo '{}' > tmp/baselines.before.json
if [[ $mode == both || $mode == wall_time ]]; then
  wall_benches=(--bench "$kernels")
  if [[ $engine -eq 1 ]]; then wall_benches+=(--bench "$engine_bench"); fi
  "$gate" update --mode wall_time "${wall_benches[@]}" "${common[@]}"
fi
if [[ $mode == both || $mode == instructions ]]; then
  "$gate" update --mode instructions --bench "$kernels" "${common[@]}"
fi
if [[ ${#dry_run[@]} -eq 0 ]]; then
  echo
  echo "== diff of $baselines (review before committing):"
  diff -u tmp/baselines.before.json "$baselines" | grep -v '"samples_ns"\|"sample_groups"' || true
fi
