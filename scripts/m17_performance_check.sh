#!/usr/bin/env bash
# One performance measurement of the current build (spec 000/001, task workflow step 11/12).
#
# Usage: scripts/m17_performance_check.sh <task_id> <before|after> [--competitive] [--repeat N]
#
# Builds Release (scripts/build.sh release engram loadtest engram-perf), prints the scenario's
# headroom (`engram-perf headroom`: a WARNING when its rate is above 50% of the sustainable
# rate `engram-perf capacity` stored for this machine, a note when none is stored), starts
# `engram start --port $ENGRAM_PORT --data-dir <fresh temp dir>`, waits for /health, samples
# the server's RSS/CPU/threads twice a second into _sys.txt, runs
# `loadtest run --scenario S --duration D --seed X --endpoint URL --output R.json`, takes
# /api/v1/diagnostics and /metrics from the live server into _diag.txt, stops the server by
# its PID (SIGTERM, then SIGKILL after $ENGRAM_STOP_TIMEOUT s) and prints a summary read from
# the result file. Scenario and seed: scenarios/m17_baseline.toml with 0xDEADBEEF, or with
# --competitive scenarios/competitive/hybrid_production_100k.toml with 0xABCD1234.
#
# Files, in $ENGRAM_PERF_DIR (default tmp/m17_performance):
#   [competitive_]<task>_<phase>_<YYYYMMDD_HHMMSS>.json        the loadtest result
#   ..._sys.txt  ..._diag.txt  ..._loadtest.log  ..._server.log
# With --repeat N (or ENGRAM_PERF_REPEAT=N, N > 1) every repetition gets a fresh server and
# data directory and the suffix _r1 .. _rN after the shared timestamp; compare picks up the
# whole newest set.
#
# Environment:
#   ENGRAM_PERF_DURATION  measured seconds per run (default 60)
#   ENGRAM_PERF_REPEAT    runs per invocation (default: recommended_set_size of
#                         $ENGRAM_PERF_DIR/calibration.json from `engram-perf calibrate --sweep`,
#                         else 1)
#   ENGRAM_PERF_DIR       results directory (default tmp/m17_performance)
#   ENGRAM_PERF_SCENARIO  a different scenario file (experiments, tests); seed stays as above
#   ENGRAM_PORT           server port (default 7432)
#   ENGRAM_SKIP_BUILD=1   do not build (also skipped when both binaries below are given)
#   ENGRAM_BIN            server binary (default build/release/apps/engram/engram)
#   LOADTEST_BIN          loadtest binary (default build/release/apps/loadtest/loadtest)
#   ENGRAM_PERF_BIN       engram-perf binary, for the headroom check (default
#                         build/release/apps/engram-perf/engram-perf; without it a note)
#   ENGRAM_SERVER_ARGS    extra server flags, e.g. "--inject-delay recall=2ms" (testing aid)
#   ENGRAM_HEALTH_TIMEOUT seconds to wait for /health (default 60)
#   ENGRAM_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 30)
#   ENGRAM_PIN=0          do not pin the server (cores 0..n-2) and loadtest (core n-1) with taskset
#
# Exit codes: loadtest's (0 ok, 1 validation limits failed - the result is still written and
# reported, 2 usage, 3 could not run); 3 also when the build, the server or the result file
# fails; 2 for a usage error of this script.
set -euo pipefail

caller_pwd=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091  # checked on its own; the path is computed
source "$ROOT/scripts/lib_perf.sh"

task=""
phase=""
competitive=0
repeat=${ENGRAM_PERF_REPEAT:-}
positional=()
while (($# > 0)); do
  case $1 in
    -h | --help)
      perf_usage "${BASH_SOURCE[0]}"
      exit 0
      ;;
    --competitive) competitive=1 ;;
    --repeat)
      (($# >= 2)) || perf_die 2 "--repeat needs a number"
      repeat=$2
      shift
      ;;
    --repeat=*) repeat=${1#*=} ;;
    -*) perf_die 2 "unknown option '$1' (see --help)" ;;
    *) positional+=("$1") ;;
  esac
  shift
done
((${#positional[@]} == 2)) || {
  perf_usage "${BASH_SOURCE[0]}" >&2
  perf_die 2 "expected <task_id> <before|after>, got ${#positional[@]} argument(s)"
}
task=${positional[0]}
phase=${positional[1]}
perf_valid_task "$task" || perf_die 2 "task id '$task' may hold only letters, digits, '.', '-', '_'"
[[ $phase == before || $phase == after ]] || perf_die 2 "phase must be 'before' or 'after', not '$phase'"
duration=${ENGRAM_PERF_DURATION:-60}
[[ $duration =~ ^[1-9][0-9]*$ ]] || perf_die 2 "ENGRAM_PERF_DURATION must be a positive integer, not '$duration'"
port=${ENGRAM_PORT:-7432}
[[ $port =~ ^[0-9]+$ ]] || perf_die 2 "ENGRAM_PORT must be a number, not '$port'"

if ((competitive)); then
  scenario="scenarios/competitive/hybrid_production_100k.toml"
  seed="0xABCD1234"
  prefix="competitive_"
else
  scenario="scenarios/m17_baseline.toml"
  seed="0xDEADBEEF"
  prefix=""
fi

# ENGRAM_PERF_SCENARIO replaces the scenario (experiments and the workflow's own end-to-end
# test); the result records it, and compare refuses to compare runs of different scenarios.
if [[ -n ${ENGRAM_PERF_SCENARIO:-} ]]; then
  scenario=$(cd "$caller_pwd" && perf_abspath "$ENGRAM_PERF_SCENARIO")
fi

# Paths given by the caller are relative to where it stood; everything else to the repo root.
out_dir=$(cd "$caller_pwd" && perf_abspath "${ENGRAM_PERF_DIR:-$ROOT/tmp/m17_performance}")

# Repetitions: --repeat, else ENGRAM_PERF_REPEAT, else what the A/A calibration of this results
# directory recommends (engram-perf calibrate --sweep N writes recommended_set_size), else 1.
repeat_source="--repeat / ENGRAM_PERF_REPEAT"
if [[ -z $repeat ]]; then
  repeat=1
  repeat_source="default"
  calibration="$out_dir/calibration.json"
  if [[ -f $calibration ]] && grep -q '"design":"sequential"' "$calibration"; then
    recommended=$(grep -o '"recommended_set_size":[0-9]*' "$calibration" | cut -d: -f2 || true)
    if [[ -n $recommended && $recommended != 0 ]]; then
      repeat=$recommended
      repeat_source="recommended by $calibration"
    fi
  fi
fi
[[ $repeat =~ ^[1-9][0-9]*$ ]] || perf_die 2 "--repeat / ENGRAM_PERF_REPEAT must be a positive integer, not '$repeat'"
engram_bin=$(cd "$caller_pwd" && perf_abspath "${ENGRAM_BIN:-$ROOT/build/release/apps/engram/engram}")
loadtest_bin=$(cd "$caller_pwd" && perf_abspath "${LOADTEST_BIN:-$ROOT/build/release/apps/loadtest/loadtest}")
perf_bin=$(cd "$caller_pwd" && perf_abspath "${ENGRAM_PERF_BIN:-$ROOT/build/release/apps/engram-perf/engram-perf}")
cd "$ROOT"

[[ -f $scenario ]] || perf_die 3 "scenario not found: $scenario"
command -v curl >/dev/null || perf_die 3 "curl not found (needed for /health and diagnostics)"
command -v jq >/dev/null || perf_die 3 "jq not found (needed for the summary)"

if [[ ${ENGRAM_SKIP_BUILD:-0} != 1 && (-z ${ENGRAM_BIN:-} || -z ${LOADTEST_BIN:-}) ]]; then
  echo "Building Release (scripts/build.sh release engram loadtest engram-perf)..."
  scripts/build.sh release engram loadtest engram-perf || perf_die 3 "the Release build failed"
fi
[[ -x $engram_bin ]] || perf_die 3 "server binary not found or not executable: $engram_bin"
[[ -x $loadtest_bin ]] || perf_die 3 "loadtest binary not found or not executable: $loadtest_bin"
mkdir -p "$out_dir"

url="http://127.0.0.1:$port"
server_pid=""
sampler_pid=""
data_dir=""

# Stops our server (only the PID we started): SIGTERM, wait, SIGKILL after the timeout.
# Sets server_status to its exit status.
server_status=0
stop_server() {
  local pid=$1 limit=$((${ENGRAM_STOP_TIMEOUT:-30} * 10)) waited=0
  kill -TERM "$pid" 2>/dev/null || true
  while perf_alive "$pid"; do
    if ((waited >= limit)); then
      echo "warning: engram (pid $pid) did not stop ${ENGRAM_STOP_TIMEOUT:-30} s after SIGTERM; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  server_status=0
  wait "$pid" 2>/dev/null || server_status=$?
}

# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  local rc=$?
  if [[ -n $sampler_pid ]]; then
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
  fi
  if [[ -n $server_pid ]] && perf_alive "$server_pid"; then
    stop_server "$server_pid"
  fi
  if [[ -n $data_dir && -d $data_dir ]]; then
    rm -rf -- "$data_dir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One timestamp for the whole set; never reuse one that already has files.
stamp=$(date +%Y%m%d_%H%M%S)
while compgen -G "$out_dir/${prefix}${task}_${phase}_${stamp}*" >/dev/null; do
  sleep 1
  stamp=$(date +%Y%m%d_%H%M%S)
done

mode_name="internal"
((competitive)) && mode_name="competitive"
echo "=== M17 performance check: task $task, phase $phase ($mode_name) ==="
echo "Scenario: $scenario (seed $seed), ${duration} s per run, $repeat run(s) ($repeat_source)"
echo "Server:   $engram_bin on port $port${ENGRAM_SERVER_ARGS:+ (extra: $ENGRAM_SERVER_ARGS)}"
echo "Loadtest: $loadtest_bin"

# Headroom: the scenario's rate against the sustainable rate stored for this machine
# (engram-perf capacity). Advice only; the run goes ahead either way.
if [[ -x $perf_bin ]]; then
  headroom=$(ENGRAM_PERF_DIR="$out_dir" "$perf_bin" headroom "$scenario" 2>&1) ||
    headroom="Note: headroom not checked: $headroom"
else
  headroom="Note: headroom not checked: engram-perf not found ($perf_bin). Build it (scripts/build.sh release engram-perf) and measure the scenario's capacity: engram-perf capacity $scenario"
fi
echo "$headroom"

read -r -a server_extra <<<"${ENGRAM_SERVER_ARGS:-}"

# Server and load generator on different cores, so neither steals the other's CPU: the server
# gets all but the last core, loadtest the last. ENGRAM_PIN=0 turns this off.
server_pin=()
lt_pin=()
cores=$(nproc 2>/dev/null || echo 1)
if [[ ${ENGRAM_PIN:-1} == 1 ]] && ((cores >= 2)) && command -v taskset >/dev/null 2>&1; then
  server_pin=(taskset -c "0-$((cores - 2))")
  lt_pin=(taskset -c "$((cores - 1))")
  echo "Pinning:  engram on cores 0-$((cores - 2)), loadtest on core $((cores - 1))"
fi
final_status=0
results=()
for ((rep = 1; rep <= repeat; rep++)); do
  base="$out_dir/${prefix}${task}_${phase}_${stamp}"
  ((repeat > 1)) && base="${base}_r${rep}"
  result="$base.json"
  sys_file="${base}_sys.txt"
  diag_file="${base}_diag.txt"
  lt_log="${base}_loadtest.log"
  server_log="${base}_server.log"
  ((repeat > 1)) && echo "--- run $rep of $repeat ---"

  if curl -fsS --max-time 2 "$url/health" >/dev/null 2>&1; then
    perf_die 3 "something already answers on $url/health; stop it or set ENGRAM_PORT"
  fi
  data_dir=$(mktemp -d "${TMPDIR:-/tmp}/engram-perf-data.XXXXXX")
  "${server_pin[@]}" "$engram_bin" start --port "$port" --data-dir "$data_dir" "${server_extra[@]}" >"$server_log" 2>&1 &
  server_pid=$!
  echo "Started engram (pid $server_pid, data $data_dir); waiting for /health..."

  deadline=$((SECONDS + ${ENGRAM_HEALTH_TIMEOUT:-60}))
  until curl -fsS --max-time 2 "$url/health" >/dev/null 2>&1; do
    if ! perf_alive "$server_pid"; then
      status=0
      wait "$server_pid" 2>/dev/null || status=$?
      server_pid=""
      tail -n 20 "$server_log" >&2 || true
      perf_die 3 "engram exited with status $status before answering /health (log: $server_log)"
    fi
    if ((SECONDS >= deadline)); then
      perf_die 3 "engram did not answer $url/health within ${ENGRAM_HEALTH_TIMEOUT:-60} s (log: $server_log)"
    fi
    sleep 0.2
  done

  perf_sample_resources "$server_pid" "$sys_file" 0.5 &
  sampler_pid=$!

  echo "Running loadtest (${duration} s measured, plus preload and warm-up); log: $lt_log"
  lt_status=0
  "${lt_pin[@]}" "$loadtest_bin" run --scenario "$scenario" --duration "$duration" --seed "$seed" \
    --endpoint "$url" --output "$result" >"$lt_log" 2>&1 || lt_status=$?

  # Diagnostics from the live server, before it stops.
  server_died=0
  if perf_alive "$server_pid"; then
    {
      printf '# GET %s/api/v1/diagnostics at %s (engram pid %s, before stop)\n' "$url" \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$server_pid"
      curl -fsS --max-time 10 "$url/api/v1/diagnostics" || printf '(diagnostics unavailable: curl failed)'
      printf '\n\n# GET %s/metrics\n' "$url"
      curl -fsS --max-time 10 "$url/metrics" || printf '(metrics unavailable: curl failed)\n'
    } >"$diag_file"
  else
    server_died=1
    echo "engram (pid $server_pid) was no longer running after the load test" >"$diag_file"
  fi

  kill "$sampler_pid" 2>/dev/null || true
  wait "$sampler_pid" 2>/dev/null || true
  sampler_pid=""
  stop_server "$server_pid"
  server_pid=""
  printf '# engram exit status: %s\n' "$server_status" >>"$sys_file"
  rm -rf -- "$data_dir"
  data_dir=""
  samples=$(grep -vc '^#' "$sys_file" || true)

  if ((server_died)); then
    tail -n 20 "$server_log" >&2 || true
    perf_die 3 "engram died during the load test (exit status $server_status, log: $server_log)"
  fi
  if [[ ! -s $result ]]; then
    tail -n 20 "$lt_log" >&2 || true
    perf_die 3 "loadtest exited $lt_status and wrote no result file ($result); see $lt_log"
  fi
  summary=$(jq -r '
    def r3: . * 1000 | round / 1000;
    def r1: . * 10 | round / 10;
    "Result:     \(input_filename)",
    "Scenario:   \(.config_name) (seed \(.context.seed // "?"), schema \(.schema_version))",
    "Measured:   \(.elapsed_seconds | r1) s, \(.total_operations) ops, \(.total_errors) errors (\(.overall_error_rate * 100 | r3)%)",
    "Throughput: \(.overall_throughput | r1) ops/s (target \(.rate.target_ops_per_sec | r1), generator saturated: \(.rate.generator_saturated), server saturated: \(if .rate | has("server_saturated") then .rate.server_saturated else "unknown" end))",
    "Server:     \(if (.rate | has("server_saturated") | not) then "unknown (no rate.server_saturated: written by an older loadtest)" elif .rate.server_saturated then "SATURATED, not a measurement of the build: " + ((.saturation.reasons // []) | join("; ")) else "kept up (schedule lag P99 \(.rate.schedule_lag_ms.p99 | r3) ms)" end)",
    "Latency:    P50 \(.p50_latency_ms | r3) ms, P95 \(.p95_latency_ms | r3) ms, P99 \(.p99_latency_ms | r3) ms",
    "Validation: \(if .validation.passed then "passed" else "FAILED: " + ([.validation.checks[] | select(.passed | not) | "\(.name) (limit \(.limit), actual \(.actual))"] | join(", ")) end)"
  ' "$result") || perf_die 3 "cannot read the result file $result (see docs/result_schema.md)"
  echo "$summary"
  echo "System:     $samples resource samples in $sys_file"
  echo "Diagnostics: $diag_file"
  results+=("$result")

  case $lt_status in
    0) ;;
    1) echo "loadtest exit 1: the run broke its scenario's validation limits (result written and kept)" ;;
    *) perf_die 3 "loadtest exited $lt_status; see $lt_log" ;;
  esac
  ((lt_status > final_status)) && final_status=$lt_status
done

echo
echo "Wrote ${#results[@]} result(s):"
printf '  %s\n' "${results[@]}"
if [[ $phase == after ]]; then
  echo "Next: ./scripts/compare_m17_performance.sh $task$( ((competitive)) && printf ' --competitive')"
fi
exit "$final_status"
