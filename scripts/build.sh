#!/usr/bin/env bash
# Configures and builds one preset (default: release) into build/<preset>.
# Usage: scripts/build.sh [preset] [ninja targets...]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
shift || true
cmake --preset "$preset" > "build-${preset}-configure.log" 2>&1 || {
  cat "build-${preset}-configure.log" >&2
  echo "error: cmake configure (preset ${preset}) failed" >&2
  exit 1
}
rm -f "build-${preset}-configure.log"
cmake --build "build/${preset}" -- "$@"
