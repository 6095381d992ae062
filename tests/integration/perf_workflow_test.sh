#!/usr/bin/env bash
# End to end: the spec's scripts with the real engram, loadtest and engram-perf.
#   check before, check after, compare            -> exit 0 (same build)
#   check after with an injected recall delay      -> compare exit 1 (internal regression)
#   the same with --competitive                    -> compare exit 2 (competitive regression)
# Usage: perf_workflow_test.sh ENGRAM_BIN LOADTEST_BIN ENGRAM_PERF_BIN REPO_ROOT
set -euo pipefail
export ENGRAM_BIN=$1 LOADTEST_BIN=$2 ENGRAM_PERF_BIN=$3
root=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ENGRAM_PERF_DIR=$work ENGRAM_SKIP_BUILD=1 ENGRAM_PERF_DURATION=30
export ENGRAM_PERF_SCENARIO=$root/tests/integration/fixtures/perf_e2e.toml
export ENGRAM_PORT=$((20000 + RANDOM % 20000))
check=$root/scripts/m17_performance_check.sh
compare=$root/scripts/compare_m17_performance.sh
delay="--inject-delay recall=200ms"
# This test proves the plumbing (files, scripts, exit codes 0/1/2), not the statistics: on a
# shared machine running the rest of the suite, A/A runs of a few seconds differ by tens of
# percent (docs/calibration.md), so the gate runs at a 150% threshold here. The injected
# 200 ms on half the operations moves P99 to at least 200 ms, far beyond it even when other
# jobs push the undelayed P99 to tens of milliseconds (56 ms was seen under a load average of 5).
threshold=(--threshold 150)

# expect CODE COMMAND...: runs COMMAND, fails the test unless it exits CODE. With
# skip_if_saturated=1 (the compares), a wrong code from runs that report a saturated load
# generator SKIPs the test (77) instead: on an overloaded machine the runs measure the machine,
# not the build, and can hide even the injected delay, so the test is neither passed nor failed.
expect() {
  local want=$1 got=0
  shift
  "$@" >"$work/out.txt" 2>&1 || got=$?
  if [[ $got -ne $want ]]; then
    if [[ ${skip_if_saturated:-0} == 1 ]] && grep -q "load generator saturated" "$work/out.txt"; then
      tail -n 30 "$work/out.txt" >&2
      echo "SKIP: '$*' exited $got, expected $want, on an overloaded machine (load generator saturated)" >&2
      exit 77
    fi
    echo "FAIL: '$*' exited $got, expected $want" >&2
    tail -n 40 "$work/out.txt" >&2
    exit 1
  fi
  echo "ok: '$*' -> $got"
}
compare_expect() {  # compare_expect CODE ARGS...: the compare script, expected to exit CODE
  skip_if_saturated=1 expect "$1" "$compare" "${@:2}"
}
expect 0 "$check" e2e before
expect 0 "$check" e2e after
compare_expect 0 e2e "${threshold[@]}"
grep -q "No significant regressions\|within" "$work/out.txt" || { cat "$work/out.txt"; exit 1; }

ENGRAM_SERVER_ARGS=$delay expect 0 "$check" e2e after
compare_expect 1 e2e "${threshold[@]}"
grep -q "REGRESSION" "$work/out.txt" || { cat "$work/out.txt"; exit 1; }

expect 0 "$check" e2e before --competitive
ENGRAM_SERVER_ARGS=$delay expect 0 "$check" e2e after --competitive
compare_expect 2 e2e --competitive "${threshold[@]}"
grep -q "COMPETITIVE REGRESSION DETECTED" "$work/out.txt" || { cat "$work/out.txt"; exit 1; }
echo "perf workflow end to end: 3 compares gave 0, 1 and 2 as expected"
