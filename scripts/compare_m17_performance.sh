#!/usr/bin/env bash
# Compares the newest before/after measurements of a task (spec 000/001).
#
# Usage: scripts/compare_m17_performance.sh <task_id> [--competitive] [--threshold PCT] [--json]
#
# Finds, in $ENGRAM_PERF_DIR (default tmp/m17_performance), the newest set of
# [competitive_]<task>_before_<timestamp>[_rN].json and of ..._after_..., and runs
# `engram-perf compare` on all repetitions of both sets. Without --competitive it uses the
# internal files when there are any, else the competitive_ ones (competitive mode is detected
# from the prefix). Competitive mode: 10% threshold, positioning against
# docs/reference/competitive_baselines.json, exit 2 on regression. A calibration.json from
# `engram-perf calibrate` and a capacity.json from `engram-perf capacity` in the results
# directory are passed along. A before run the server could not keep up with
# (rate.server_saturated) or that failed its scenario's validation is no baseline (exit 3,
# naming the sustainable rate when capacity.json has it); a saturated after run with healthy
# before runs is a regression (exit 1, competitive 2).
#
# Environment:
#   ENGRAM_PERF_DIR        results directory (default tmp/m17_performance)
#   ENGRAM_PERF_BIN        engram-perf binary (default build/release/apps/engram-perf/engram-perf;
#                          built with scripts/build.sh when missing, unless ENGRAM_SKIP_BUILD=1)
#   ENGRAM_PERF_BASELINES  competitor baselines (default docs/reference/competitive_baselines.json)
#
# Exit codes: 0 no regression, 1 internal regression, 2 competitive regression, 3 error
# (missing files, invalid data, a before run that is no baseline, usage).
set -euo pipefail

caller_pwd=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091  # checked on its own; the path is computed
source "$ROOT/scripts/lib_perf.sh"

task=""
competitive=0
extra=()
while (($# > 0)); do
  case $1 in
    -h | --help)
      perf_usage "${BASH_SOURCE[0]}"
      exit 0
      ;;
    --competitive) competitive=1 ;;
    --json) extra+=(--json) ;;
    --threshold)
      (($# >= 2)) || perf_die 3 "--threshold needs a value"
      extra+=(--threshold "$2")
      shift
      ;;
    -*) perf_die 3 "unknown option '$1' (see --help)" ;;
    *)
      [[ -z $task ]] || perf_die 3 "more than one task id given ('$task', '$1')"
      task=$1
      ;;
  esac
  shift
done
[[ -n $task ]] || {
  perf_usage "${BASH_SOURCE[0]}" >&2
  perf_die 3 "missing <task_id>"
}
perf_valid_task "$task" || perf_die 3 "task id '$task' may hold only letters, digits, '.', '-', '_'"

dir=$(cd "$caller_pwd" && perf_abspath "${ENGRAM_PERF_DIR:-$ROOT/tmp/m17_performance}")
bin=$(cd "$caller_pwd" && perf_abspath "${ENGRAM_PERF_BIN:-$ROOT/build/release/apps/engram-perf/engram-perf}")
baselines=$(cd "$caller_pwd" && perf_abspath "${ENGRAM_PERF_BASELINES:-$ROOT/docs/reference/competitive_baselines.json}")
[[ -d $dir ]] || perf_die 3 "no results directory $dir: run ./scripts/m17_performance_check.sh $task before first"

if ((competitive)); then
  prefix="competitive_"
elif [[ -n $(perf_newest_set "$dir" "" "$task" before) || -n $(perf_newest_set "$dir" "" "$task" after) ]]; then
  prefix=""
elif [[ -n $(perf_newest_set "$dir" "competitive_" "$task" before) ]]; then
  prefix="competitive_"
  competitive=1
  echo "Only competitive_ results found for task $task: competitive mode"
else
  perf_die 3 "no results for task $task in $dir: run ./scripts/m17_performance_check.sh $task before"
fi
flag=""
((competitive)) && flag=" --competitive"

mapfile -t before < <(perf_newest_set "$dir" "$prefix" "$task" before)
mapfile -t after < <(perf_newest_set "$dir" "$prefix" "$task" after)
((${#before[@]} > 0)) || perf_die 3 "missing before results (${prefix}${task}_before_*.json in $dir): run ./scripts/m17_performance_check.sh $task before$flag"
((${#after[@]} > 0)) || perf_die 3 "missing after results (${prefix}${task}_after_*.json in $dir): run ./scripts/m17_performance_check.sh $task after$flag"
before_stamp=${before[0]##*/}
before_stamp=${before_stamp#"${prefix}${task}_before_"}
after_stamp=${after[0]##*/}
after_stamp=${after_stamp#"${prefix}${task}_after_"}
if [[ ${before_stamp:0:15} > ${after_stamp:0:15} ]]; then
  echo "warning: the newest before set (${before_stamp:0:15}) is newer than the newest after set (${after_stamp:0:15})" >&2
fi

if [[ ! -x $bin ]]; then
  if [[ ${ENGRAM_SKIP_BUILD:-0} != 1 && -z ${ENGRAM_PERF_BIN:-} ]]; then
    echo "Building engram-perf (scripts/build.sh release engram-perf)..." >&2
    "$ROOT/scripts/build.sh" release engram-perf >&2 || perf_die 3 "building engram-perf failed"
  fi
  [[ -x $bin ]] || perf_die 3 "engram-perf not found or not executable: $bin"
fi

args=(compare --task "$task" --before "${before[@]}" --after "${after[@]}")
if ((competitive)); then
  args+=(--competitive --baselines "$baselines")
fi
if [[ -f $dir/calibration.json ]]; then
  args+=(--calibration "$dir/calibration.json")
fi
if [[ -f $dir/capacity.json ]]; then
  args+=(--capacity "$dir/capacity.json")
fi
args+=("${extra[@]}")

status=0
"$bin" "${args[@]}" || status=$?
case $status in
  0 | 1 | 2 | 3) exit "$status" ;;
  *)
    echo "error: engram-perf ended with status $status (crash?); treating it as an error" >&2
    exit 3
    ;;
esac
