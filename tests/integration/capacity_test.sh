#!/usr/bin/env bash
# `engram-perf capacity` for real: the real engram (started, pinned and stopped by engram-perf
# itself), tests/integration/fixtures/capacity_tiny.toml, steps of 2 s, one run per rate. The
# server holds every answer 10 ms over the scenario's 4 connections, so at most 400 answers a
# second: a physical bound the measured steps must respect, whatever the machine's noise.
# Then `engram-perf headroom` reads what was stored. About 20-30 s.
# Usage: capacity_test.sh ENGRAM_BIN ENGRAM_PERF_BIN REPO_ROOT
set -euo pipefail
engram=$(realpath "$1")
perf=$(realpath "$2")
root=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/capacity_test.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
export ENGRAM_PERF_DIR=$work
scenario=$root/tests/integration/fixtures/capacity_tiny.toml
key=tests/integration/fixtures/capacity_tiny.toml
failures=0
# shellcheck disable=SC1091  # checked on its own; the path is computed
source "$root/tests/lib_test.sh"

mkdir -p "$work/tmp"
status=0
(cd "$root" && TMPDIR=$work/tmp "$perf" capacity "$scenario" --engram-bin "$engram" \
  --server-args "--inject-delay remember=10ms,search=10ms" --step-seconds 2 --warmup 0.5 \
  --repeats 1 --tolerance 0.3 --min-rate 25 --max-steps 8 --max-minutes 2) \
  >"$work/out.txt" 2>"$work/err.txt" || status=$?
cat "$work/err.txt" "$work/out.txt"
check "engram-perf capacity exits 0" test "$status" -eq 0
file=$work/capacity.json
check "capacity.json written beside the results" test -s "$file"
entry() { jq -e --arg k "$key" ".scenarios[\$k][0] | $1" "$file" >/dev/null; }
check "keyed by the repository-relative scenario path" entry 'type == "object"'
check "the machine: CPU model, family/model, MHz, cores" \
  entry '(.machine.cpu_model | length > 0) and (.machine.cores >= 1) and (.machine.cpu_mhz | type == "number")'
check "the dataset preloaded to its end size (200 nodes + 10 s x 100 ops/s x 50% stores)" \
  entry '.settings.dataset_nodes == 700'
check "steps were measured" entry '.steps | length >= 2'
check "every step's verdict agrees with its numbers" \
  entry '[.steps[] | select(.sustained != (.verdict == "sustained"))] | length == 0'
check "a sustained step kept schedule lag P99 within 1 ms" \
  entry '[.steps[] | select(.sustained and .schedule_lag_p99_ms > 1)] | length == 0'
check "no step at or above 400 ops/s (4 connections x 10 ms) was sustained" \
  entry '[.steps[] | select(.sustained and .rate >= 400)] | length == 0'
check "the search ended with a known outcome" \
  entry '.outcome == "found" or .outcome == "below_min_rate" or .outcome == "budget_exhausted"'
check "the sustainable rate is below the bound and below the lowest failure" \
  entry '(.sustainable_ops_per_sec == null) or (.sustainable_ops_per_sec < 400 and (.lowest_failed_ops_per_sec == null or .lowest_failed_ops_per_sec > .sustainable_ops_per_sec))'
check "the ratio to the scenario's 100 ops/s is recorded" \
  entry '(.ratio_to_scenario_rate == null) or ((.ratio_to_scenario_rate - .sustainable_ops_per_sec / 100) | fabs < 1e-9)'
check "each step's result file and the server log were kept" \
  test -n "$(compgen -G "$work/capacity_runs/capacity_tiny_*/step_01_*.json" || true)"
stopped_by_sigterm() {
  local log
  for log in "$work"/capacity_runs/capacity_tiny_*/server_*.log; do
    grep -q "SIGTERM received" "$log" || return 1
  done
}
check "every server it started was stopped with SIGTERM" stopped_by_sigterm
check "and its data directory removed" test -z "$(ls -A "$work/tmp")"
check "a summary with the sustainable rate is printed" grep -q "^Sustainable rate: " "$work/out.txt"
check "progress per step" grep -q "^step  1: " "$work/err.txt"

# headroom reads what was stored (this machine, this scenario version): no "Note:".
(cd "$root" && "$perf" headroom "$scenario") >"$work/headroom.txt"
cat "$work/headroom.txt"
check "headroom finds the stored capacity" grep -Eq "^(Headroom|WARNING): $key asks 100 ops/s" "$work/headroom.txt"
(cd "$root" && "$perf" headroom "$scenario" --capacity-file "$work/none.json") >"$work/headroom2.txt"
check "without a capacity file headroom names the command that measures it" \
  grep -q "measure it with: engram-perf capacity $key" "$work/headroom2.txt"

set +e
"$perf" capacity "$work/missing.toml" >/dev/null 2>&1
code=$?
set -e
check "a missing scenario is exit 3" test "$code" -eq 3

if ((failures > 0)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "capacity end to end: all checks passed"
