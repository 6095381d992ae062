#!/usr/bin/env bash
# scripts/m17_performance_check.sh against stand-ins: a fake `engram` (a small Python HTTP
# server answering /health, /api/v1/diagnostics and /metrics) and a fake `loadtest` that checks
# the server is up, records its arguments, sleeps, copies a fixture result and exits with a
# chosen code. Checks file names, the spec's scenario/seed per mode, resource samples over the
# run, diagnostics taken before the stop, the server stopped by its PID, the data directory
# removed, and exit codes (0, 1 propagated, 3 for failures, 2 for usage).
# Usage: check_script_test.sh FIXTURE_GEN_BIN REPO_ROOT     (exit 77 = skipped: no python3)
set -euo pipefail

gen=$1
root=$2
perf=${3:-}
script=$root/scripts/m17_performance_check.sh
command -v python3 >/dev/null || {
  echo "python3 not found: skipping"
  exit 77
}
work=$(mktemp -d "${TMPDIR:-/tmp}/check_script_test.XXXXXX")
blocker_pid=""
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  if [[ -n $blocker_pid ]]; then
    kill "$blocker_pid" 2>/dev/null || true
    wait "$blocker_pid" 2>/dev/null || true
  fi
  rm -rf -- "$work"
}
trap cleanup EXIT
"$gen" "$work/fixtures"
failures=0
out=$work/out.txt

cat >"$work/fake_engram" <<'EOF'
#!/usr/bin/env bash
# fake engram: start --port P --data-dir D [...]
set -euo pipefail
port="" data=""
while (($# > 0)); do
  case $1 in
    --port) port=$2; shift ;;
    --data-dir) data=$2; shift ;;
  esac
  shift
done
printf '%s\n' "$data" >>"$FAKE_STATE/data_dirs"
[[ ${FAKE_ENGRAM_MODE:-} == die ]] && { echo "fake engram: failing on purpose" >&2; exit 7; }
[[ -d $data ]] || { echo "fake engram: data dir $data missing" >&2; exit 8; }
exec python3 -c '
import http.server, os, signal, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        bodies = {"/health": b"{\"status\":\"ok\"}",
                  "/api/v1/diagnostics": b"{\"fake\": true, \"episodes\": 0}",
                  "/metrics": b"engram_requests_total 0\n"}
        body = bodies.get(self.path)
        if body is None:
            self.send_response(404); self.end_headers(); return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$port"
EOF
cat >"$work/fake_loadtest" <<'EOF'
#!/usr/bin/env bash
# fake loadtest: run --scenario S --duration D --seed X --endpoint U --output F
set -euo pipefail
printf '%s\n' "$*" >>"$FAKE_STATE/loadtest_args"
endpoint="" output=""
while (($# > 0)); do
  case $1 in
    --endpoint) endpoint=$2; shift ;;
    --output) output=$2; shift ;;
  esac
  shift
done
curl -fsS "$endpoint/health" >/dev/null || { echo "fake loadtest: server not up" >&2; exit 3; }
sleep "${FAKE_LOADTEST_SLEEP:-1.3}"
if [[ ${FAKE_LOADTEST_MODE:-} == noresult ]]; then
  echo "fake loadtest: cannot run" >&2
  exit 3
fi
cp "$FAKE_RESULT" "$output"
exit "${FAKE_LOADTEST_EXIT:-0}"
EOF
chmod +x "$work/fake_engram" "$work/fake_loadtest"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export ENGRAM_BIN=$work/fake_engram LOADTEST_BIN=$work/fake_loadtest ENGRAM_PORT=$port
export ENGRAM_PERF_DURATION=2 ENGRAM_SKIP_BUILD=1 FAKE_STATE=$work
export FAKE_RESULT=$work/fixtures/base_r1.json
# The headroom check runs engram-perf headroom when it is given; without it the script says so.
[[ -n $perf ]] && export ENGRAM_PERF_BIN=$perf

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
# shellcheck disable=SC1091  # checked on its own; the path is computed
source "$root/tests/lib_test.sh"
server_down() { ! curl -fsS --max-time 1 "http://127.0.0.1:$port/health" >/dev/null 2>&1; }
data_dirs_gone() {
  local d
  while read -r d; do [[ ! -e $d ]] || return 1; done <"$work/data_dirs"
}

# --- A normal run.
d=$work/out1
expect 0 "internal run" env ENGRAM_PERF_DIR="$d" "$script" 042 before
json=$(compgen -G "$d/042_before_[0-9]*_[0-9]*.json" | head -n 1 || true)
check "result named 042_before_<YYYYMMDD_HHMMSS>.json" test -n "$json"
stem=${json%.json}
check "spec scenario and seed passed to loadtest" \
  grep -q -- "--scenario scenarios/m17_baseline.toml --duration 2 --seed 0xDEADBEEF --endpoint http://127.0.0.1:$port --output $json" "$work/loadtest_args"
check "_sys.txt has at least 2 resource samples" test "$(grep -vc '^#' "${stem}_sys.txt")" -ge 2
# shellcheck disable=SC2016  # awk's own $fields
check "_sys.txt samples carry rss, cpu and threads" \
  awk '!/^#/ && NF == 5 && $3 > 0 && $5 >= 1 { ok = 1 } END { exit !ok }' "${stem}_sys.txt"
check "_diag.txt was taken from the live server" grep -q '"fake": true' "${stem}_diag.txt"
check "_diag.txt holds /metrics" grep -q 'engram_requests_total' "${stem}_diag.txt"
check "_loadtest.log exists" test -f "${stem}_loadtest.log"
check "server stopped" server_down
check "fresh data directory used and removed" data_dirs_gone
check "summary printed from the result file" grep -q "P99 .* ms" "$out"
check "the scenario is named in the output" grep -q "scenarios/m17_baseline.toml" "$out"

check "the summary says whether the server kept up" grep -q "server saturated: false" "$out"
check "and how" grep -q "^Server:     kept up (schedule lag P99 0.2 ms)" "$out"
if [[ -n $perf ]]; then
  check "without a stored capacity the check names the command that measures it" \
    grep -q "measure it with: engram-perf capacity scenarios/m17_baseline.toml" "$out"
else
  check "without engram-perf the headroom is not checked, and it says so" grep -q "Note: headroom not checked" "$out"
fi

# --- A result the server could not keep up with: the summary says so, next to the generator.
d=$work/out_sat
expect 0 "a saturated run" env ENGRAM_PERF_DIR="$d" FAKE_RESULT="$work/fixtures/saturated_before.json" "$script" 061 before
check "server saturated: true beside generator saturated" \
  grep -q "generator saturated: false, server saturated: true" "$out"
check "the reasons are printed" \
  grep -q "^Server:     SATURATED, not a measurement of the build: schedule lag P99 1470 ms" "$out"
expect 0 "a result from an older loadtest" env ENGRAM_PERF_DIR="$d" FAKE_RESULT="$work/fixtures/old_loadtest.json" "$script" 062 before
check "an older result's saturation is unknown" grep -q "server saturated: unknown" "$out"

# --- The headroom against a stored capacity (this machine, the scenario's content hash).
# write_capacity FILE SUSTAINABLE: a capacity.json entry for scenarios/m17_baseline.toml here.
write_capacity() {
  python3 - "$root/scenarios/m17_baseline.toml" "$1" "$2" <<'PY'
import json, subprocess, sys
data = open(sys.argv[1], "rb").read()
h = 0xCBF29CE484222325
for b in data:
    h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
cores = int(subprocess.check_output(["getconf", "_NPROCESSORS_ONLN"]))
entry = {"scenario_path": "scenarios/m17_baseline.toml", "scenario_hash": "%016x" % h,
         "scenario_name": "M17 Baseline", "scenario_rate_ops_per_sec": 1000.0,
         "machine": {"host": "h", "cpu_model": cpu, "cpu_family": 25, "cpu_model_number": 1,
                     "cpu_mhz": 2450.0, "cores": cores},
         "measured_utc": "2026-12-02T10:00:00Z", "git_commit": "abc", "server_binary": "engram",
         "settings": {"dataset_nodes": 36000, "step_seconds": 15.0, "warmup_seconds": 3.0,
                      "repeats": 3, "growth": 2.0, "tolerance": 0.1, "max_growth": 0.25,
                      "server_cpus": "0", "loadgen_cpus": "1", "server_args": ""},
         "restarts": 1, "steps": [], "sustainable_ops_per_sec": float(sys.argv[3]),
         "lowest_failed_ops_per_sec": None, "ratio_to_scenario_rate": float(sys.argv[3]) / 1000,
         "outcome": "found", "note": ""}
json.dump({"schema_version": 1, "scenarios": {"scenarios/m17_baseline.toml": [entry]}}, open(sys.argv[2], "w"))
PY
}
if [[ -n $perf ]]; then
  d=$work/out_cap
  mkdir -p "$d"
  write_capacity "$d/capacity.json" 1500
  expect 0 "a rate above half the stored capacity" env ENGRAM_PERF_DIR="$d" "$script" 063 before
  check "the check warns" \
    grep -q "^WARNING: scenarios/m17_baseline.toml asks 1000 ops/s, 67% of its sustainable rate on this machine, 1500 ops/s" "$out"
  check "before it starts the server" \
    test "$(grep -n '^WARNING: scenarios/m17' "$out" | cut -d: -f1)" -lt "$(grep -n '^Started engram' "$out" | cut -d: -f1)"
  write_capacity "$d/capacity.json" 4000
  expect 0 "a rate well below the stored capacity" env ENGRAM_PERF_DIR="$d" "$script" 064 before
  check "the headroom is printed, without a warning" \
    grep -q "^Headroom: scenarios/m17_baseline.toml asks 1000 ops/s, 25% of its sustainable rate" "$out"
  check "no warning" test "$(grep -c '^WARNING' "$out")" -eq 0
fi

# --- Competitive mode, two repetitions.
: >"$work/loadtest_args"
d=$work/out2
expect 0 "competitive run, --repeat 2" env ENGRAM_PERF_DIR="$d" FAKE_RESULT="$work/fixtures/comp_before.json" \
  "$script" 042 after --competitive --repeat 2
check "two repetitions _r1 and _r2 of one timestamp" \
  test "$(compgen -G "$d/competitive_042_after_*_r[12].json" | sed 's/_r[12]\.json$//' | sort -u | wc -l)" -eq 1
check "repetition files exist" test "$(compgen -G "$d/competitive_042_after_*_r[12].json" | wc -l)" -eq 2
check "competitive scenario and seed" \
  grep -q -- "--scenario scenarios/competitive/hybrid_production_100k.toml --duration 2 --seed 0xABCD1234" "$work/loadtest_args"
check "server stopped" server_down

# --- Without --repeat, a sequential calibration's recommendation sets the repetitions.
d=$work/out_cal
mkdir -p "$d"
echo '{"design":"sequential","recommended_set_size":2,"metrics":{}}' >"$d/calibration.json"
expect 0 "repetitions recommended by calibration.json" env ENGRAM_PERF_DIR="$d" "$script" 049 before
check "two repetitions from the calibration" test "$(compgen -G "$d/049_before_*_r[12].json" | wc -l)" -eq 2
check "the source of the count is printed" grep -q "2 run(s) (recommended by .*calibration.json)" "$out"
echo '{"design":"paired","recommended_set_size":4,"metrics":{}}' >"$d/calibration.json"
expect 0 "a paired calibration does not set the check's repetitions" env ENGRAM_PERF_DIR="$d" "$script" 050 before
check "one run by default" grep -q "1 run(s) (default)" "$out"

# --- engram-perf check: the same script, its exit code, and a JSON summary of what it wrote.
if [[ -n $perf ]]; then
  d=$work/out_perf
  got=0
  env ENGRAM_ROOT="$root" ENGRAM_PERF_DIR="$d" "$perf" check 051 before --json >"$work/check.json" 2>"$out" || got=$?
  check "engram-perf check --json exits 0" test "$got" -eq 0
  check "check --json prints JSON alone, naming the one result written, with its P99" \
    python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); r=o["results"]; sys.exit(not (o["exit_code"]==0 and len(r)==1 and "051_before_" in r[0]["file"] and r[0]["p99_latency_ms"]>0))' "$work/check.json"
  expect 1 "engram-perf check passes loadtest's exit 1 on" env ENGRAM_ROOT="$root" ENGRAM_PERF_DIR="$d" FAKE_LOADTEST_EXIT=1 "$perf" check 052 before
  expect 3 "engram-perf check with a bad phase" env ENGRAM_ROOT="$root" "$perf" check 053 during
fi

# --- loadtest's exit 1 (validation limits failed) is propagated, the result is kept.
d=$work/out3
expect 1 "loadtest exit 1 propagated" env ENGRAM_PERF_DIR="$d" FAKE_LOADTEST_EXIT=1 "$script" 043 before
check "result kept" test -n "$(compgen -G "$d/043_before_*.json" || true)"
check "validation failure reported" grep -q "validation limits" "$out"
check "server stopped" server_down

# --- Failures: exit 3.
expect 3 "loadtest could not run" env ENGRAM_PERF_DIR="$work/out4" FAKE_LOADTEST_MODE=noresult "$script" 044 before
check "server stopped after a failed run" server_down
expect 3 "server dies at start" env ENGRAM_PERF_DIR="$work/out5" FAKE_ENGRAM_MODE=die "$script" 045 before
check "the failure is explained" grep -q "exited with status 7 before answering /health" "$out"
expect 3 "missing server binary" env ENGRAM_PERF_DIR="$work/out6" ENGRAM_BIN="$work/nope" "$script" 046 before
"$work/fake_engram" start --port "$port" --data-dir "$work" >/dev/null 2>&1 &
blocker_pid=$!
for _ in $(seq 50); do server_down || break; sleep 0.1; done
expect 3 "port already answering" env ENGRAM_PERF_DIR="$work/out7" "$script" 047 before
check "the failure is explained" grep -q "already answers" "$out"
kill "$blocker_pid"
wait "$blocker_pid" 2>/dev/null || true
blocker_pid=""

# --- Usage: exit 2.
expect 2 "no arguments" "$script"
expect 2 "bad phase" "$script" 048 during
expect 2 "bad repeat" env ENGRAM_PERF_REPEAT=0 "$script" 048 before
expect 0 "--help" "$script" --help

if ((failures > 0)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "all check script checks passed"
