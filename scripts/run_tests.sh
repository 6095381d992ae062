#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds the ci preset, runs ctest.
# Usage: scripts/run_tests.sh [extra ctest arguments, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh --test
scripts/build.sh ci
shellcheck scripts/*.sh .ci/run
ctest --test-dir build/ci --output-on-failure --timeout 600 -j 2 "$@"
