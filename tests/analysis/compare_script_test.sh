#!/usr/bin/env bash
# scripts/compare_m17_performance.sh as a user runs it: exit codes 0/1/2/3 on fixture result
# files (written by analysis_fixture_gen), newest-set selection, competitive detection.
# Usage: compare_script_test.sh ENGRAM_PERF_BIN FIXTURE_GEN_BIN REPO_ROOT
set -euo pipefail

perf=$1
gen=$2
root=$3
script=$root/scripts/compare_m17_performance.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/compare_script_test.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
fx=$work/fixtures
"$gen" "$fx"
failures=0
out=$work/out.txt

# expect WANT DESCRIPTION COMMAND...: runs COMMAND, checks its exit code.
expect() {
  local want=$1 what=$2 got=0
  shift 2
  "$@" >"$out" 2>&1 || got=$?
  if [[ $got == "$want" ]]; then
    echo "ok: $what (exit $got)"
  else
    echo "FAIL: $what: exit $got, want $want"
    sed 's/^/    /' "$out"
    failures=$((failures + 1))
  fi
}
# contains TEXT / lacks TEXT: the last command's output holds / does not hold TEXT.
contains() { output_check 1 "$1"; }
lacks() { output_check 0 "$1"; }
output_check() {
  local want=$1 text=$2 found=0 has=has
  grep -qF -- "$text" "$out" && found=1
  ((found)) || has=lacks
  if [[ $found == "$want" ]]; then
    echo "ok:   output $has '$text'"
  else
    echo "FAIL: output $has '$text'"
    sed 's/^/    /' "$out"
    failures=$((failures + 1))
  fi
}
# place DIR NAME FIXTURE: copies a fixture into DIR under a check-script file name.
place() {
  mkdir -p "$1"
  cp "$fx/$3" "$1/$2"
}

export ENGRAM_PERF_BIN=$perf ENGRAM_SKIP_BUILD=1

# --- 0: the newest before/after sets, three repetitions each, A/A. An older after set that
# would be a regression must be ignored.
d=$work/ok
for i in 1 2 3; do
  place "$d" "007_before_20251108_140530_r$i.json" "base_r$i.json"
  place "$d" "007_after_20251108_142130_r$i.json" "same_r$i.json"
done
place "$d" "007_after_20251101_090000.json" "slow_r1.json"
expect 0 "A/A, newest sets of 3 repetitions" env ENGRAM_PERF_DIR="$d" "$script" 007
contains "=== Performance Comparison: Task 007 ==="
contains "Before: 3 runs: 007_before_20251108_140530_r1.json 007_before_20251108_140530_r2.json 007_before_20251108_140530_r3.json"
contains "Summary for PERFORMANCE_LOG.md:"
contains "Gate: flags a change that exceeds 5% with 95% confidence"

# --- 1: internal regression.
d=$work/regression
place "$d" "008_before_20251108_140530.json" "base_r1.json"
place "$d" "008_after_20251108_142130.json" "slow_r1.json"
expect 1 "internal +30% slowdown" env ENGRAM_PERF_DIR="$d" "$script" 008
contains "REGRESSION: P99 latency increased by"
expect 1 "same, --json" env ENGRAM_PERF_DIR="$d" "$script" 008 --json
if [[ $(jq -r '.exit_code, .metrics[2].verdict' "$out" | paste -sd' ') == "1 regression" ]]; then
  echo "ok:   --json carries exit_code 1 and the P99 regression verdict"
else
  echo "FAIL: --json output"
  failures=$((failures + 1))
fi

# --- 2: competitive regression, detected from the competitive_ prefix alone.
d=$work/competitive
place "$d" "competitive_998_before_20251108_143000.json" "comp_before.json"
place "$d" "competitive_998_after_20251108_144000.json" "comp_slow.json"
expect 2 "competitive +30% slowdown, mode from the file names" env ENGRAM_PERF_DIR="$d" "$script" 998
contains "Only competitive_ results found for task 998: competitive mode"
contains "=== COMPETITIVE REGRESSION DETECTED ==="
contains "vs Neo4j (baseline: 27.96ms"
expect 2 "same with --competitive" env ENGRAM_PERF_DIR="$d" "$script" 998 --competitive

# --- 0 in competitive mode, and internal files win without the flag.
d=$work/both
place "$d" "competitive_005_before_20251108_143000.json" "comp_before.json"
place "$d" "competitive_005_after_20251108_144000.json" "comp_same.json"
place "$d" "005_before_20251108_140000.json" "base_r1.json"
place "$d" "005_after_20251108_141000.json" "slow_r1.json"
expect 0 "competitive A/A with --competitive" env ENGRAM_PERF_DIR="$d" "$script" 005 --competitive
contains "=== Performance Comparison: Task 005 (Competitive) ==="
contains "Speedup:"
contains "No significant regressions detected (within 10% competitive threshold)"
expect 1 "internal files are used without --competitive" env ENGRAM_PERF_DIR="$d" "$script" 005

# --- Runs that measured no build.
d=$work/saturated
place "$d" "010_before_20251108_140000.json" "saturated_before.json"
place "$d" "010_after_20251108_141000.json" "same_r1.json"
expect 3 "a saturated before run is no baseline" env ENGRAM_PERF_DIR="$d" "$script" 010
contains "the server could not keep up (server_saturated: schedule lag P99 1470 ms"
contains "not a valid baseline"
contains "engram-perf capacity scenarios/m17_baseline.toml"
cp "$fx/capacity.json" "$d/capacity.json"
expect 3 "the same, with the capacity measured on this (synthetic) machine" env ENGRAM_PERF_DIR="$d" "$script" 010
contains "Sustainable rate of this scenario on this machine: 150 ops/s (0.75x the scenario's 200 ops/s"
got=0
ENGRAM_PERF_DIR="$d" "$script" 010 --json >"$work/refusal.json" 2>/dev/null || got=$?
if [[ $got == 3 && $(jq -r '.exit_code, .rule.key' "$work/refusal.json" | paste -sd' ') == "3 before_saturated" ]]; then
  echo "ok:   --json names the rule that refused the baseline"
else
  echo "FAIL: --json refusal (exit $got)"
  sed 's/^/    /' "$work/refusal.json"
  failures=$((failures + 1))
fi
place "$d" "011_before_20251108_140000.json" "p99_failed.json"
place "$d" "011_after_20251108_141000.json" "same_r1.json"
expect 3 "a before run that failed its validation is no baseline" env ENGRAM_PERF_DIR="$d" "$script" 011
contains "failed its scenario's validation: expected_p99_latency_ms"
place "$d" "012_before_20251108_140000.json" "base_r1.json"
place "$d" "012_after_20251108_141000.json" "saturated_after.json"
expect 1 "a healthy before and a saturated after is a regression" env ENGRAM_PERF_DIR="$d" "$script" 012
contains "REGRESSION: the server could not keep up with the after build"
lacks "Within 5% target"
place "$d" "competitive_013_before_20251108_140000.json" "comp_before.json"
place "$d" "competitive_013_after_20251108_141000.json" "comp_saturated.json"
expect 2 "the same in competitive mode" env ENGRAM_PERF_DIR="$d" "$script" 013 --competitive
contains "=== COMPETITIVE REGRESSION DETECTED ==="
place "$d" "014_before_20251108_140000.json" "base_r1.json"
place "$d" "014_after_20251108_141000.json" "p99_failed.json"
expect 0 "an after run that failed its validation: the gate's verdict" env ENGRAM_PERF_DIR="$d" "$script" 014
lacks "Within 5% target"
contains "NOT within 5% target"

# --- 3: errors.
d=$work/errors
expect 3 "no results directory" env ENGRAM_PERF_DIR="$work/nowhere" "$script" 001
contains "no results directory"
place "$d" "001_before_20251108_140000.json" "base_r1.json"
expect 3 "only a before set" env ENGRAM_PERF_DIR="$d" "$script" 001
contains "missing after results"
expect 3 "no results for the task" env ENGRAM_PERF_DIR="$d" "$script" 002
place "$d" "003_before_20251108_140000.json" "base_r1.json"
cp "$root/tests/analysis/fixtures/malformed.json" "$d/003_after_20251108_141000.json"
expect 3 "malformed after file" env ENGRAM_PERF_DIR="$d" "$script" 003
contains "not valid JSON"
place "$d" "004_before_20251108_140000.json" "base_r1.json"
place "$d" "004_after_20251108_141000.json" "other_seed.json"
expect 3 "different seeds" env ENGRAM_PERF_DIR="$d" "$script" 004
contains "different seeds"
place "$d" "006_before_20251108_140000.json" "base_r1.json"
place "$d" "006_after_20251108_141000.json" "other_scenario.json"
expect 3 "different scenarios" env ENGRAM_PERF_DIR="$d" "$script" 006
place "$d" "009_before_20251108_140000.json" "failed_run.json"
place "$d" "009_after_20251108_141000.json" "same_r1.json"
expect 3 "a before run that broke its error limit" env ENGRAM_PERF_DIR="$d" "$script" 009
contains "not a valid baseline"
expect 3 "engram-perf missing" env ENGRAM_PERF_DIR="$work/ok" ENGRAM_PERF_BIN="$work/none" "$script" 007
expect 3 "no task id" "$script"
expect 3 "bad task id" "$script" '../x'
expect 0 "--help" "$script" --help
expect 3 "engram-perf usage error is 3, not 2" "$perf" compare --before "$fx/base_r1.json"
expect 0 "engram-perf --help" "$perf" --help

# engram-perf ab --dry-run: the interleaved A B B A plan, without running anything.
if [[ -d $root/.git ]]; then
  expect 0 "ab --dry-run" env ENGRAM_ROOT="$root" "$perf" ab --base HEAD --head HEAD --pairs 2 \
    --dry-run --head-server-args "--inject-delay recall=1ms"
  if [[ $(grep -o "m17_performance_check.sh' 'ab' [a-z]*" "$out" | awk '{print $3}' | paste -sd' ') == "before after after before" ]]; then
    echo "ok:   ab runs pairs in ABBA order"
  else
    echo "FAIL: ab order"
    sed 's/^/    /' "$out"
    failures=$((failures + 1))
  fi
  # The head's extra server flags reach the head's runs only.
  if [[ $(grep -c "ENGRAM_SERVER_ARGS='--inject-delay recall=1ms' .* after\$" "$out") == 2 &&
    $(grep -c "ENGRAM_SERVER_ARGS" "$out") == 2 ]]; then
    echo "ok:   ab passes --head-server-args to the head's runs only"
  else
    echo "FAIL: ab server args"
    sed 's/^/    /' "$out"
    failures=$((failures + 1))
  fi
fi

if command -v shellcheck >/dev/null; then
  expect 0 "shellcheck -S style" shellcheck -S style "$root/scripts/m17_performance_check.sh" \
    "$root/scripts/compare_m17_performance.sh" "$root/scripts/lib_perf.sh"
fi

if ((failures > 0)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "all compare script checks passed"
