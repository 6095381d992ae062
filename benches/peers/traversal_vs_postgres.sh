#!/usr/bin/env bash
# 2-hop neighbour latency: engram over HTTP against PostgreSQL 15 over loopback, on the same
# graph, with the same operation stream, in the same run.
#
# Usage: benches/peers/traversal_vs_postgres.sh [--rounds N] [--duration S] [--warmup S]
#            [--rate R] [--connections C] [--scenario F] [--graph engram|scenario]
#            [--port P] [--out DIR]
#
# Builds nothing: give the binaries (ENGRAM_BIN, LOADTEST_BIN; defaults below). In one
# invocation it
#   1. starts  taskset -c 0 engram start --in-memory --port P --bind 127.0.0.1 --threads 1
#              --no-consolidation --dim D   (D: the scenario's embedding dimension)
#      and     loadtest pg-server --cpus 0   (a private PostgreSQL: initdb in a temporary
#              directory, 127.0.0.1 only, read-benchmark settings, the postmaster and every
#              backend pinned to core 0; as root it runs as the user postgres)
#   2. loads the scenario's graph into both: one short `loadtest run` each (preload, verified
#      by count). engram links every stored episode to up to 8 similar ones on its own, so the
#      graph it holds is the scenario's links and more (2.6 times the directed edges at 100K).
#      With --graph engram (the default) that graph is exported from engram (each node's 1-hop
#      neighbours, GET /api/v1/episodes/ID/neighbors, one curl on core 1) and PostgreSQL loads
#      it instead of the scenario's links (`--pg-edges-file`): both then traverse the same
#      edges, and the directed edge counts must be equal. With --graph scenario PostgreSQL
#      holds the scenario's links only (the counts are printed, not compared).
#   3. runs N rounds, E P E P ..., each a `taskset -c 1 loadtest run --no-preload` of S
#      measured seconds after W seconds of warm-up, at R ops/s over C connections, the same
#      seed and so the same operations: E with the HTTP driver against engram, P with
#      `--driver postgres` against the private server,
#   4. prints P50/P99 per system and round, the ratio engram / PostgreSQL, and the medians over
#      rounds, and writes them (JSON and markdown) with every result file.
# Latency is measured as loadtest always does: from each operation's intended start, over the
# same open-loop scheduler and histograms for both systems (docs/loadtest.md).
#
# The default scenario, scenarios/competitive/traversal_2hop_100k.toml, is the graph of
# scenarios/competitive/neo4j_traversal_100k.toml (100K nodes, scale-free, average degree ~10,
# seed 0xABCD1234) with only 2-hop traversals (limit 1000). Loading it takes a few minutes
# (engram indexes the 768-dimension embeddings too).
#
# Options:
#   --rounds N        E/P rounds (default 3, 1..20)
#   --duration S      measured seconds per run (default 60, 1..600)
#   --warmup S        warm-up seconds per run (default 5, 0..120)
#   --rate R          ops/s, both systems (default: the scenario's rate)
#   --connections C   connections, both systems (default: the scenario's [connections])
#   --scenario F      a traversal-only scenario (default above)
#   --graph G         engram (PostgreSQL loads the graph engram holds, default) or scenario
#                     (PostgreSQL loads the scenario's links only)
#   --port P          engram's port on 127.0.0.1 (default 7460)
#   --out DIR         results directory (default tmp/peers)
#   -h, --help        this text
#
# Environment:
#   ENGRAM_BIN        server binary (default build/release/apps/engram/engram)
#   LOADTEST_BIN      loadtest binary (default build/release/apps/loadtest/loadtest)
#   ENGRAM_PG_BIN_DIR PostgreSQL's bin directory (default: /usr/lib/postgresql/15/bin, found)
#   ENGRAM_HEALTH_TIMEOUT  seconds to wait for either server (default 60)
#
# Output: traversal_vs_postgres_<YYYYMMDD_HHMMSS>.{json,md} and a _runs/ directory with each
# run's result and log, the servers' logs, in DIR.
#
# Exit codes: 0 done; 2 usage error; 3 could not run (a binary, a server, a load or a run
# failed; the message says which).
set -euo pipefail

caller_pwd=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC1091  # checked on its own; the path is computed
source "$ROOT/scripts/lib_perf.sh"

rounds=3
duration=60
warmup=5
rate=""
connections=""
scenario_arg=""
graph=engram
port=7460
out_arg=""
while (($# > 0)); do
  case $1 in
    -h | --help)
      perf_usage "${BASH_SOURCE[0]}"
      exit 0
      ;;
    --rounds | --duration | --warmup | --rate | --connections | --scenario | --graph | --port | --out)
      (($# >= 2)) || perf_die 2 "$1 needs a value (see --help)"
      case $1 in
        --rounds) rounds=$2 ;;
        --duration) duration=$2 ;;
        --warmup) warmup=$2 ;;
        --rate) rate=$2 ;;
        --connections) connections=$2 ;;
        --scenario) scenario_arg=$2 ;;
        --graph) graph=$2 ;;
        --port) port=$2 ;;
        --out) out_arg=$2 ;;
      esac
      shift
      ;;
    *) perf_die 2 "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
perf_check_int --rounds "$rounds" 1 20
perf_check_int --duration "$duration" 1 600
perf_check_int --warmup "$warmup" 0 120
[[ -z $rate ]] || perf_check_int --rate "$rate" 1 1000000
[[ -z $connections ]] || perf_check_int --connections "$connections" 1 1000
perf_check_int --port "$port" 1 65535
[[ $graph == engram || $graph == scenario ]] || perf_die 2 "--graph must be engram or scenario, not '$graph'"

out_dir=$(cd "$caller_pwd" && perf_abspath "${out_arg:-$ROOT/tmp/peers}")
engram_bin=$(cd "$caller_pwd" && perf_abspath "${ENGRAM_BIN:-$ROOT/build/release/apps/engram/engram}")
loadtest_bin=$(cd "$caller_pwd" && perf_abspath "${LOADTEST_BIN:-$ROOT/build/release/apps/loadtest/loadtest}")
scenario=$(cd "$caller_pwd" && perf_abspath "${scenario_arg:-$ROOT/scenarios/competitive/traversal_2hop_100k.toml}")

for tool in jq curl taskset; do
  command -v "$tool" >/dev/null || perf_die 3 "$tool not found"
done
cores=$(nproc)
((cores >= 2)) || perf_die 3 "needs 2 cores (servers on core 0, loadtest on core 1); this machine has $cores"
[[ -x $engram_bin ]] || perf_die 3 "engram binary not found or not executable: $engram_bin (set ENGRAM_BIN)"
[[ -x $loadtest_bin ]] || perf_die 3 "loadtest binary not found or not executable: $loadtest_bin (set LOADTEST_BIN)"
[[ -f $scenario ]] || perf_die 3 "scenario not found: $scenario"
described=$("$loadtest_bin" validate "$scenario") || perf_die 3 "loadtest does not accept $scenario"
# engram's default space takes the scenario's embedding dimension ("data: N nodes x D dims").
dim=$(sed -n 's/^ *data: [0-9]* nodes x \([0-9]*\) dims.*/\1/p' <<<"$described")
[[ -n $dim ]] || perf_die 3 "cannot read the embedding dimension from 'loadtest validate $scenario'"

stamp=$(date +%Y%m%d_%H%M%S)
base="$out_dir/traversal_vs_postgres_${stamp}"
runs_dir="${base}_runs"
mkdir -p "$runs_dir"
url="http://127.0.0.1:$port"
timeout=${ENGRAM_HEALTH_TIMEOUT:-60}

engram_pid=""
pg_pid=""
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  local rc=$?
  [[ -z $engram_pid ]] || perf_stop_pid "$engram_pid"
  # loadtest pg-server stops PostgreSQL and removes its directory on SIGTERM.
  [[ -z $pg_pid ]] || perf_stop_pid "$pg_pid" 300
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- The servers, both on core 0.
if curl -fsS --max-time 2 "$url/health" >/dev/null 2>&1; then
  perf_die 3 "something already answers on $url/health; stop it or use --port"
fi
taskset -c 0 "$engram_bin" start --in-memory --port "$port" --bind 127.0.0.1 --threads 1 --no-consolidation --dim "$dim" \
  >"${base}_engram.log" 2>&1 &
engram_pid=$!
ready="$runs_dir/pg_ready.txt"
# loadtest pg-server only waits for a signal; it sits on core 1, the postmaster on core 0.
taskset -c 1 "$loadtest_bin" pg-server --cpus 0 --ready-file "$ready" >"${base}_pg_server.log" 2>&1 &
pg_pid=$!
deadline=$((SECONDS + timeout))
until curl -fsS --max-time 2 "$url/health" >/dev/null 2>&1; do
  perf_alive "$engram_pid" || perf_die 3 "engram exited before answering /health (log: ${base}_engram.log)"
  ((SECONDS < deadline)) || perf_die 3 "engram did not answer $url/health in $timeout s"
  sleep 0.2
done
until [[ -s $ready ]]; do
  perf_alive "$pg_pid" || perf_die 3 "PostgreSQL did not start: $(tail -n 20 "${base}_pg_server.log")"
  ((SECONDS < deadline)) || perf_die 3 "PostgreSQL did not start in $timeout s (log: ${base}_pg_server.log)"
  sleep 0.2
done
pg_url=$(sed -n 1p "$ready")
pg_version=$(sed -n 3p "$ready")

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "=== 2-hop traversal: engram over HTTP vs PostgreSQL, $rounds round(s) of ${duration} s ==="
echo "Machine:   $cores cores, ${cpu_model:-unknown CPU}, kernel $(uname -r), load average $load_start"
echo "Scenario:  $scenario"
echo "engram:    $engram_bin ($url, pid $engram_pid, core 0)"
echo "PostgreSQL: $pg_version ($pg_url, core 0)"

common=(run --scenario "$scenario" --progress quiet)
[[ -z $rate ]] || common+=(--target-rate "$rate")
[[ -z $connections ]] || common+=(--connections "$connections")
engram_args=(--endpoint "$url")
pg_args=(--driver postgres --pg-url "$pg_url")

# run_loadtest NAME ARGS...: one loadtest run on core 1, its result NAME.json and log NAME.log
# in the runs directory. Exit 1 (a [validation] limit failed) still gives a result.
run_loadtest() {
  local name=$1 status=0
  shift
  taskset -c 1 "$loadtest_bin" "${common[@]}" --output "$runs_dir/$name.json" "$@" >"$runs_dir/$name.log" 2>&1 ||
    status=$?
  if ((status != 0 && status != 1)); then
    perf_die 3 "loadtest exited $status for $name: $(tail -n 5 "$runs_dir/$name.log")"
  fi
}

# ---- The graph, into both.
echo "Loading the scenario into engram..."
run_loadtest load_engram "${engram_args[@]}" --duration 1 --warmup 0
nodes=$(jq -r '.dataset.nodes_requested' "$runs_dir/load_engram.json")
engram_edges=$(curl -fsS "$url/api/v1/spaces" | jq '[.spaces[].edges] | add')
if [[ $graph == engram ]]; then
  echo "Exporting engram's graph ($engram_edges directed edges)..."
  edges_file="$runs_dir/engram_edges.tsv"
  seq 0 $((nodes - 1)) |
    awk -v u="$url" '{ print "url = \"" u "/api/v1/episodes/n" $1 "/neighbors?hops=1&limit=100000\"" }' \
      >"$runs_dir/export.curl"
  taskset -c 1 curl -fsS -K "$runs_dir/export.curl" |
    jq -r '(.id[1:]) as $s | .neighbors[] | "\($s)\t\(.id[1:])\t\(.weight)"' >"$edges_file" ||
    perf_die 3 "exporting engram's graph failed"
  exported=$(wc -l <"$edges_file")
  [[ $exported == "$engram_edges" ]] || perf_die 3 "exported $exported edges, engram reports $engram_edges"
  pg_args+=(--pg-edges-file "$edges_file")
fi
echo "Loading the graph into PostgreSQL..."
run_loadtest load_postgres "${pg_args[@]}" --duration 1 --warmup 0
for sys in engram postgres; do
  verified=$(jq -r '.dataset.verified_count' "$runs_dir/load_$sys.json")
  [[ $verified == "$nodes" ]] || perf_die 3 "$sys holds $verified of the $nodes nodes after the preload"
done
pg_edges=$(jq -r '.context.peer.directed_edges' "$runs_dir/load_postgres.json")
if [[ $graph == engram && $engram_edges != "$pg_edges" ]]; then
  perf_die 3 "the graphs differ: engram holds $engram_edges directed edges, PostgreSQL $pg_edges"
fi
echo "Loaded:    $nodes nodes; directed edges: engram $engram_edges, PostgreSQL $pg_edges ($graph graph;" \
  "engram $(jq -r '.dataset.load_seconds | floor' "$runs_dir/load_engram.json") s," \
  "PostgreSQL $(jq -r '.dataset.load_seconds | floor' "$runs_dir/load_postgres.json") s)"

# ---- The rounds.
for ((r = 1; r <= rounds; r++)); do
  run_loadtest "round${r}_engram" "${engram_args[@]}" --no-preload --duration "$duration" --warmup "$warmup"
  run_loadtest "round${r}_postgres" "${pg_args[@]}" --no-preload --duration "$duration" --warmup "$warmup"
  echo "round $r done"
done

# ---- The table.
rows_json=$(
  for ((r = 1; r <= rounds; r++)); do
    for sys in engram postgres; do
      jq -c --arg sys "$sys" --argjson round "$r" '{
        round: $round, system: $sys,
        p50_ms: .latency.p50_ms, p99_ms: .latency.p99_ms, p999_ms: .latency.p999_ms,
        service_p50_ms: .service_time.p50_ms, service_p99_ms: .service_time.p99_ms,
        samples: .latency.samples, errors: .total_errors,
        target_ops_per_sec: .rate.target_ops_per_sec, achieved_ops_per_sec: .rate.achieved_ops_per_sec,
        generator_lag_p99_ms: .rate.generator_lag_ms.p99, generator_saturated: .rate.generator_saturated,
        load_average: .context.load_average}' "$runs_dir/round${r}_$sys.json"
    done
  done | jq -s '.'
)
summary=$(jq -n --argjson rows "$rows_json" --arg scenario "$scenario" --arg engram "$engram_bin" \
  --arg pg "$pg_version" --arg machine "$cores cores, ${cpu_model:-unknown CPU}, kernel $(uname -r)" \
  --arg stamp "$stamp" --argjson duration "$duration" --argjson warmup "$warmup" \
  --argjson nodes "$nodes" --argjson edges "$engram_edges" --argjson pg_edges "$pg_edges" --arg graph "$graph" '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def of($s): [$rows[] | select(.system == $s)];
  {scenario: $scenario, time: $stamp, machine: $machine, engram_bin: $engram, postgres: $pg,
   nodes: $nodes, engram_directed_edges: $edges, postgres_directed_edges: $pg_edges, graph: $graph, duration_seconds: $duration, warmup_seconds: $warmup,
   rounds: [range(0; of("engram") | length) as $i | {round: ($i + 1), engram: of("engram")[$i],
            postgres: of("postgres")[$i], p99_ratio: (of("engram")[$i].p99_ms / of("postgres")[$i].p99_ms),
            p50_ratio: (of("engram")[$i].p50_ms / of("postgres")[$i].p50_ms)}],
   median: {engram_p50_ms: (of("engram") | map(.p50_ms) | median), engram_p99_ms: (of("engram") | map(.p99_ms) | median),
            postgres_p50_ms: (of("postgres") | map(.p50_ms) | median),
            postgres_p99_ms: (of("postgres") | map(.p99_ms) | median)}}
  | .median.p99_ratio = (.median.engram_p99_ms / .median.postgres_p99_ms)
  | .median.p50_ratio = (.median.engram_p50_ms / .median.postgres_p50_ms)')
printf '%s\n' "$summary" >"$base.json"

table=$(jq -r '
  def f: if . == null then "-" elif . >= 10 then (. * 10 | round / 10 | tostring) else (. * 1000 | round / 1000 | tostring) end;
  def sat: if .generator_saturated then " (gen. saturated)" else "" end;
  "| round | engram P50 ms | engram P99 ms | PostgreSQL P50 ms | PostgreSQL P99 ms | P50 ratio | P99 ratio | ops/s (target) | errors E/P | generator lag P99 ms E/P |",
  "|---|---|---|---|---|---|---|---|---|---|",
  (.rounds[] | "| \(.round) | \(.engram.p50_ms | f) | \(.engram.p99_ms | f)\(.engram | sat) | \(.postgres.p50_ms | f) | \(.postgres.p99_ms | f)\(.postgres | sat) | \(.p50_ratio | f) | \(.p99_ratio | f) | \(.engram.achieved_ops_per_sec | round) / \(.postgres.achieved_ops_per_sec | round) (\(.engram.target_ops_per_sec | round)) | \(.engram.errors)/\(.postgres.errors) | \(.engram.generator_lag_p99_ms | f)/\(.postgres.generator_lag_p99_ms | f) |"),
  "| median | \(.median.engram_p50_ms | f) | \(.median.engram_p99_ms | f) | \(.median.postgres_p50_ms | f) | \(.median.postgres_p99_ms | f) | \(.median.p50_ratio | f) | \(.median.p99_ratio | f) | | | |"
' "$base.json")
{
  echo "# 2-hop traversal: engram over HTTP vs PostgreSQL ($stamp)"
  echo
  echo "Machine: $cores cores, ${cpu_model:-unknown CPU}, kernel $(uname -r); load average $load_start at the start."
  echo "Scenario: $scenario; $nodes nodes; directed edges: engram $engram_edges, PostgreSQL $pg_edges (--graph $graph)."
  echo "engram: $engram_bin; PostgreSQL: $pg_version. Servers on core 0, loadtest on core 1."
  echo "Each run: $warmup s warm-up, $duration s measured. Ratio = engram / PostgreSQL (below 1: engram faster)."
  echo "\"gen. saturated\": loadtest itself fell behind in that run (generator lag P99 over 10 ms: the machine, not the server)."
  echo
  echo "$table"
} >"$base.md"
echo
echo "$table"
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Results: $base.json, $base.md, runs in $runs_dir"
