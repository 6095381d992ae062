#!/usr/bin/env bash
# Capacity of the load generator (issue 3): the highest rate loadtest sustains against a trivial
# endpoint, side by side with wrk on the same server in the same run.
#
# Usage: benches/capacity/capacity_vs_wrk.sh [--rounds N] [--duration S] [--port P]
#                                            [--connections C] [--start-rate R] [--out DIR]
#
# Builds Release into build/capacity (cmake -DCMAKE_BUILD_TYPE=Release, targets engram and
# loadtest, -j2), installs wrk with apt-get if it is missing, starts
#   taskset -c 0 engram start --in-memory --port P --bind 127.0.0.1 --threads 1 --no-consolidation
# waits for /health, and then alternates, N rounds (A B A B ...), both clients pinned to core 1:
#   A  wrk -t1 -cC -dS --latency http://127.0.0.1:P/health            (Requests/sec)
#   B  the highest rate loadtest sustains with scenarios/capacity/health_only.toml: doubling
#      --target-rate from R until a step fails (halving instead if R itself fails), then
#      bisecting between the last pass and the first failure (at most 6 steps, or until they
#      are within 3%). Each step is a `loadtest run` of S measured seconds after 1 s of
#      warm-up, C connections; a step that fails is run once more. Then one more run at the
#      rate wrk reached in that round (its achieved rate, lag and CPU).
# A run is *sustained* when schedule lag P99 < 1 ms, there are no errors and the achieved
# rate is at least 99% of the target; a step passes when one of its (at most two) runs is.
#
# wrk is closed-loop: each connection sends its next request when the previous answer arrives,
# so Requests/sec is the throughput at saturation. loadtest is open-loop: it sends on a fixed
# schedule and its sustained rate is the highest one it keeps to that schedule. See
# docs/loadtest.md "Capacity".
#
# Output: a table on stdout, and in DIR (default tmp/capacity) capacity_<YYYYMMDD_HHMMSS>.json
# and .md, plus every step's loadtest result and log, wrk's output and the server log.
#
# Options:
#   --rounds N        A/B rounds (default 3, at most 20)
#   --duration S      seconds of each wrk run and of each loadtest step (default 5, 1..120)
#   --port P          server port on 127.0.0.1 (default 7440)
#   --connections C   connections of both clients (default 32)
#   --start-rate R    first loadtest rate of each round's search, ops/s (default 2000)
#   --out DIR         results directory (default tmp/capacity)
#   -h, --help        this text
#
# Environment:
#   ENGRAM_SKIP_BUILD=1     do not build (also skipped when both binaries below are given)
#   ENGRAM_BIN              server binary (default build/capacity/apps/engram/engram)
#   LOADTEST_BIN            loadtest binary (default build/capacity/apps/loadtest/loadtest)
#   ENGRAM_HEALTH_TIMEOUT   seconds to wait for /health (default 30)
#
# Exit codes: 0 done; 2 usage error; 3 could not run (build, wrk, server, loadtest failed).
set -euo pipefail

caller_pwd=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC1091  # checked on its own; the path is computed
source "$ROOT/scripts/lib_perf.sh"

rounds=3
duration=5
port=7440
connections=32
start_rate=2000
out_arg=""
while (($# > 0)); do
  case $1 in
    -h | --help)
      perf_usage "${BASH_SOURCE[0]}"
      exit 0
      ;;
    --rounds | --duration | --port | --connections | --start-rate | --out)
      (($# >= 2)) || perf_die 2 "$1 needs a value (see --help)"
      case $1 in
        --rounds) rounds=$2 ;;
        --duration) duration=$2 ;;
        --port) port=$2 ;;
        --connections) connections=$2 ;;
        --start-rate) start_rate=$2 ;;
        --out) out_arg=$2 ;;
      esac
      shift
      ;;
    --rounds=*) rounds=${1#*=} ;;
    --duration=*) duration=${1#*=} ;;
    --port=*) port=${1#*=} ;;
    --connections=*) connections=${1#*=} ;;
    --start-rate=*) start_rate=${1#*=} ;;
    --out=*) out_arg=${1#*=} ;;
    *) perf_die 2 "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
perf_check_int --rounds "$rounds" 1 20
perf_check_int --duration "$duration" 1 120
perf_check_int --port "$port" 1 65535
perf_check_int --connections "$connections" 1 10000
perf_check_int --start-rate "$start_rate" 1 1000000

out_dir=$(cd "$caller_pwd" && perf_abspath "${out_arg:-$ROOT/tmp/capacity}")
build_dir="$ROOT/build/capacity"
engram_bin=$(cd "$caller_pwd" && perf_abspath "${ENGRAM_BIN:-$build_dir/apps/engram/engram}")
loadtest_bin=$(cd "$caller_pwd" && perf_abspath "${LOADTEST_BIN:-$build_dir/apps/loadtest/loadtest}")
scenario="$ROOT/scenarios/capacity/health_only.toml"
cd "$ROOT"

# The search: doubling from start_rate until a step fails (at most max_ladder steps), then at
# most max_bisect bisection steps, stopping once the bracket is within 3%.
max_ladder=12
max_bisect=6

command -v jq >/dev/null || perf_die 3 "jq not found (needed to read loadtest's result files)"
command -v curl >/dev/null || perf_die 3 "curl not found (needed for /health)"
command -v taskset >/dev/null || perf_die 3 "taskset not found (util-linux)"
cores=$(nproc)
((cores >= 2)) || perf_die 3 "needs 2 cores (server on core 0, clients on core 1); this machine has $cores"
[[ -f $scenario ]] || perf_die 3 "scenario not found: $scenario"

if ! command -v wrk >/dev/null; then
  echo "wrk not found; installing it (apt-get update && apt-get install -y wrk)..."
  sudo_cmd=()
  ((EUID == 0)) || sudo_cmd=(sudo)
  if ! { "${sudo_cmd[@]}" apt-get update >/dev/null && "${sudo_cmd[@]}" apt-get install -y wrk >/dev/null; }; then
    perf_die 3 "could not install wrk"
  fi
fi

if [[ ${ENGRAM_SKIP_BUILD:-0} != 1 && (-z ${ENGRAM_BIN:-} || -z ${LOADTEST_BIN:-}) ]]; then
  echo "Building Release into $build_dir (engram, loadtest)..."
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null ||
    perf_die 3 "cmake configure of $build_dir failed"
  cmake --build "$build_dir" --target engram loadtest -j2 >/dev/null || perf_die 3 "the Release build failed"
fi
[[ -x $engram_bin ]] || perf_die 3 "server binary not found or not executable: $engram_bin"
[[ -x $loadtest_bin ]] || perf_die 3 "loadtest binary not found or not executable: $loadtest_bin"
"$loadtest_bin" validate "$scenario" >/dev/null || perf_die 3 "loadtest does not accept $scenario"

mkdir -p "$out_dir"
stamp=$(date +%Y%m%d_%H%M%S)
while compgen -G "$out_dir/capacity_${stamp}*" >/dev/null; do
  sleep 1
  stamp=$(date +%Y%m%d_%H%M%S)
done
base="$out_dir/capacity_${stamp}"
steps_dir="${base}_steps"
mkdir -p "$steps_dir"
server_log="${base}_server.log"
url="http://127.0.0.1:$port"

server_pid=""
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  local rc=$?
  [[ -z $server_pid ]] || perf_stop_pid "$server_pid"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if curl -fsS --max-time 2 "$url/health" >/dev/null 2>&1; then
  perf_die 3 "something already answers on $url/health; stop it or use --port"
fi
server_cmd=(taskset -c 0 "$engram_bin" start --in-memory --port "$port" --bind 127.0.0.1 --threads 1 --no-consolidation)
"${server_cmd[@]}" >"$server_log" 2>&1 &
server_pid=$!
deadline=$((SECONDS + ${ENGRAM_HEALTH_TIMEOUT:-30}))
until curl -fsS --max-time 2 "$url/health" >/dev/null 2>&1; do
  perf_alive "$server_pid" || perf_die 3 "engram exited before answering /health (log: $server_log)"
  ((SECONDS < deadline)) || perf_die 3 "engram did not answer $url/health in ${ENGRAM_HEALTH_TIMEOUT:-30} s"
  sleep 0.2
done

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "=== loadtest capacity vs wrk: $rounds round(s), ${duration} s per run, $connections connections ==="
echo "Machine:  $cores cores, ${cpu_model:-unknown CPU}, kernel $(uname -r)"
echo "Server:   ${server_cmd[*]} (pid $server_pid)"
echo "Clients:  taskset -c 1 (wrk $(wrk -v 2>&1 | awk 'NR == 1 {print $2}'), $loadtest_bin)"
echo "Load average at start: $load_start"

# children_cpu_seconds FILE: writes the user + system CPU seconds of this shell's finished
# children (bash's `times`, second line) to FILE. Run in this shell, not a subshell.
children_cpu_seconds() {
  times >"$1.times"
  awk 'NR == 2 {
    t = 0
    for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
    printf "%.3f\n", t
  }' "$1.times" >"$1"
}

# wrk_run ROUND: one wrk run; sets wrk_result to "req_per_sec p50_ms p99_ms cpu_percent".
wrk_result=""
wrk_run() {
  local round=$1 out="$steps_dir/wrk_r$1.txt" cpu0 cpu1 t0 t1
  children_cpu_seconds "$steps_dir/cpu0"
  t0=$(date +%s.%N)
  taskset -c 1 wrk -t1 -c"$connections" -d"${duration}s" --latency "$url/health" >"$out" 2>&1 ||
    perf_die 3 "wrk failed in round $round (see $out)"
  t1=$(date +%s.%N)
  children_cpu_seconds "$steps_dir/cpu1"
  cpu0=$(cat "$steps_dir/cpu0")
  cpu1=$(cat "$steps_dir/cpu1")
  wrk_result=$(awk -v c0="$cpu0" -v c1="$cpu1" -v t0="$t0" -v t1="$t1" '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    $1 == "Requests/sec:" { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { if (rps == "") exit 1; printf "%s %.3f %.3f %.1f\n", rps, p50, p99, 100 * (c1 - c0) / (t1 - t0) }
  ' "$out") || perf_die 3 "cannot read Requests/sec from wrk's output ($out)"
}

# lt_run ROUND RATE ATTEMPT: one loadtest run at RATE; sets step_verdict (pass or fail) and
# step_figures to "achieved p50_ms p99_ms lag_p99_ms errors cpu_percent generator_lag_p99_ms
# peak_outstanding".
step_verdict=""
step_figures=""
lt_run() {
  local round=$1 rate=$2 attempt=$3
  local stem="$steps_dir/loadtest_r${round}_${rate}_${attempt}"
  local result="$stem.json" log="$stem.log"
  local status=0 line
  taskset -c 1 "$loadtest_bin" run --scenario "$scenario" --endpoint "$url" --target-rate "$rate" \
    --duration "$duration" --warmup 1 --connections "$connections" --progress quiet \
    --output "$result" >"$log" 2>&1 || status=$?
  if ((status > 1)) || [[ ! -s $result ]]; then
    perf_die 3 "loadtest exited $status at $rate ops/s (see $log)"
  fi
  line=$(jq -r '
    (.rate.achieved_ops_per_sec) as $a | (.rate.schedule_lag_ms.p99) as $lag |
    (if $lag < 1 and .total_errors == 0 and $a >= 0.99 * .rate.target_ops_per_sec
     then "pass" else "fail" end) as $v |
    "\($v) \($a) \(.p50_latency_ms) \(.p99_latency_ms) \($lag) \(.total_errors) \(.rate.generator_cpu_percent)" +
    " \(.rate.generator_lag_ms.p99) \(.rate.peak_outstanding)"
  ' "$result") || perf_die 3 "cannot read $result"
  read -r step_verdict step_figures <<<"$line"
  printf '  loadtest %6d ops/s #%s: %-4s %s\n' "$rate" "$attempt" "$step_verdict" \
    "$(awk '{printf "achieved %.0f, P50 %.3f ms, P99 %.3f ms, lag P99 %.3f ms, errors %d, CPU %.0f%%, generator lag P99 %.3f ms, peak outstanding %d", $1, $2, $3, $4, $5, $6, $7, $8}' <<<"$step_figures")"
}

# lt_step ROUND RATE: a step of the search. A failed run is repeated once and the step passes
# if either run did: on a shared machine one scheduling hiccup (the server descheduled for a
# few ms while every connection waits on it) is enough to push a 5 s run's P99 lag past 1 ms.
lt_step() {
  lt_run "$1" "$2" 1
  if [[ $step_verdict != pass ]]; then
    lt_run "$1" "$2" 2
  fi
}

# search_try ROUND RATE: one step of lt_search, in its variables: counts the step and moves lo
# (with best) to RATE when the step passes, hi when it fails.
search_try() {
  lt_step "$1" "$2"
  steps=$((steps + 1))
  if [[ $step_verdict == pass ]]; then
    lo=$2
    best="$2 $(awk '{print $1, $2, $3, $4, $6, $7}' <<<"$step_figures")"
  else
    hi=$2
  fi
}

# lt_search ROUND: the highest sustained rate. Sets search_result to "rate achieved p50 p99
# lag cpu generator_lag steps" of the highest passing step (rate 0 when none passed).
search_result=""
lt_search() {
  local round=$1 rate=$start_rate lo=0 hi=0 best="0 0 0 0 0 0 0" steps=0 i
  # Double from the start rate until a step fails.
  for ((i = 0; i < max_ladder; i++)); do
    search_try "$round" "$rate"
    [[ $step_verdict == pass ]] || break
    rate=$((rate * 2))
  done
  # Even the first rate failed: halve until a step passes (not below 100 ops/s).
  while ((lo == 0 && hi > 100 && i < max_ladder)); do
    search_try "$round" $((hi / 2))
    i=$((i + 1))
  done
  # Bisect between the last pass and the first failure.
  if ((hi > 0 && lo > 0)); then
    for ((i = 0; i < max_bisect && hi * 100 > lo * 103; i++)); do
      search_try "$round" $(((lo + hi) / 2))
    done
  fi
  search_result="$best $steps"
}

rows=()
for ((round = 1; round <= rounds; round++)); do
  echo "--- round $round of $rounds (load average $(cut -d' ' -f1-3 /proc/loadavg)) ---"
  wrk_run "$round"
  read -r w_rps w_p50 w_p99 w_cpu <<<"$wrk_result"
  printf '  wrk      %8.0f req/s (latency P50 %s ms, P99 %s ms, CPU %s%%)\n' "$w_rps" "$w_p50" "$w_p99" "$w_cpu"
  lt_search "$round"
  read -r l_rate l_ach l_p50 l_p99 l_lag l_cpu l_glag l_steps <<<"$search_result"
  printf '  loadtest highest sustained: %s ops/s (%s steps)\n' "$l_rate" "$l_steps"
  # One more run at the rate wrk reached: can loadtest offer it at all, and at what lag?
  at_wrk=$(awk -v r="$w_rps" 'BEGIN { printf "%d", r }')
  lt_run "$round" "$at_wrk" at-wrk
  read -r x_ach _ _ x_lag _ x_cpu x_glag _ <<<"$step_figures"
  rows+=("$round $w_rps $w_p50 $w_p99 $l_rate $l_ach $l_p50 $l_p99 $l_lag $l_cpu $l_glag $l_steps $at_wrk $x_ach $x_lag $x_cpu $w_cpu $x_glag")
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# The table, the JSON and the markdown, from the rows.
table_header='| round | wrk req/s | wrk P50 ms | wrk P99 ms | wrk CPU % | loadtest sustained ops/s | loadtest P50 ms | loadtest P99 ms | schedule lag P99 ms | generator lag P99 ms | loadtest CPU % | loadtest / wrk | loadtest at wrk rate: achieved, lag P99 ms, generator lag P99 ms, CPU % |'
table_rule='|---|---|---|---|---|---|---|---|---|---|---|---|---|'
table=$(printf '%s\n' "${rows[@]}" | awk '{
  ratio = ($2 > 0) ? $5 / $2 : 0
  printf "| %d | %.0f | %.3f | %.3f | %.0f | %d | %.3f | %.3f | %.3f | %.3f | %.0f | %.2f | %.0f, %.1f, %.3f, %.0f |\n",
    $1, $2, $3, $4, $17, $5, $7, $8, $9, $11, $10, ratio, $14, $15, $18, $16
}')
echo
echo "$table_header"
echo "$table_rule"
echo "$table"
echo "Load average: $load_start at start, $load_end at the end"

command_line="benches/capacity/capacity_vs_wrk.sh --rounds $rounds --duration $duration --port $port --connections $connections --start-rate $start_rate"
printf '%s\n' "${rows[@]}" | jq -R -s \
  --arg stamp "$stamp" --arg cpu "${cpu_model:-unknown}" --arg kernel "$(uname -r)" --argjson cores "$cores" \
  --arg load_start "$load_start" --arg load_end "$load_end" --arg server "${server_cmd[*]}" \
  --arg command "$command_line" --argjson duration "$duration" --argjson connections "$connections" \
  --arg engram_bin "$engram_bin" --arg loadtest_bin "$loadtest_bin" '
  {
    schema: "engram.capacity_vs_wrk/1",
    stamp: $stamp,
    command: $command,
    machine: {cores: $cores, cpu: $cpu, kernel: $kernel},
    load_average: {start: $load_start, end: $load_end},
    server: $server,
    binaries: {engram: $engram_bin, loadtest: $loadtest_bin},
    duration_seconds: $duration,
    connections: $connections,
    sustained_means: "schedule lag P99 < 1 ms, 0 errors, achieved >= 99% of target (a failed step is run twice)",
    rounds: [split("\n")[] | select(length > 0) | split(" ") | map(tonumber) | {
      round: .[0],
      wrk: {requests_per_sec: .[1], p50_ms: .[2], p99_ms: .[3], cpu_percent: .[16]},
      loadtest: {sustained_ops_per_sec: .[4], achieved_ops_per_sec: .[5], p50_ms: .[6], p99_ms: .[7],
                 schedule_lag_p99_ms: .[8], generator_cpu_percent: .[9], generator_lag_p99_ms: .[10],
                 steps: .[11]},
      loadtest_at_wrk_rate: {target_ops_per_sec: .[12], achieved_ops_per_sec: .[13], schedule_lag_p99_ms: .[14],
                             generator_lag_p99_ms: .[17], generator_cpu_percent: .[15]},
      ratio: (if .[1] > 0 then .[4] / .[1] else null end)
    }]
  }' >"$base.json"
{
  echo "# loadtest capacity vs wrk ($stamp)"
  echo
  echo "Command: \`$command_line\`"
  echo "Machine: $cores cores, ${cpu_model:-unknown CPU}, kernel $(uname -r)"
  echo "Server: \`${server_cmd[*]}\`; clients pinned with \`taskset -c 1\`"
  echo "Load average: $load_start at start, $load_end at the end"
  echo "Sustained: schedule lag P99 < 1 ms, 0 errors, achieved >= 99% of target"
  echo
  echo "$table_header"
  echo "$table_rule"
  echo "$table"
} >"$base.md"
echo "Wrote $base.json, $base.md (steps in $steps_dir)"
