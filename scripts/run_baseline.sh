#!/usr/bin/env bash
# The main job: installs what is missing, builds Release, starts the engine on a fresh local
# data directory (its embedded RocksDB store), runs the baseline scenario
# (scenarios/m17_baseline.toml: preload 10,000 episodes, 5 s warm-up, 60 s at 1000 ops/s) with
# loadtest and prints the result. A thin wrapper over scripts/m17_performance_check.sh.
#
# Usage: scripts/run_baseline.sh [--duration SECONDS] [--competitive]
#
# The result, server resource samples, diagnostics and logs land in tmp/m17_performance/
# as baseline_before_<timestamp>.* (see scripts/m17_performance_check.sh --help).
# Exit codes: 0 the run met the scenario's validation limits; 1 it ran but missed them
# (the result says which); 2 usage; 3 could not build, start or run.
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
while (($# > 0)); do
  case $1 in
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    --duration)
      [[ $# -ge 2 ]] || { echo "error: --duration needs a value" >&2; exit 2; }
      export ENGRAM_PERF_DURATION=$2
      shift
      ;;
    --competitive) args+=(--competitive) ;;
    *)
      echo "error: unknown argument '$1' (see --help)" >&2
      exit 2
      ;;
  esac
  shift
done

scripts/install_deps.sh || exit 3
exec scripts/m17_performance_check.sh baseline before "${args[@]}"
