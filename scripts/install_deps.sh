#!/usr/bin/env bash
# Installs the Debian 12 packages Engram builds and tests with, when any is missing.
# Usage: scripts/install_deps.sh [--test]   (--test adds what the test suite needs too)
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config git
  libboost1.81-dev libboost-json1.81-dev
  libhwy-dev libhnswlib-dev librocksdb-dev
  libtomlplusplus-dev libcli11-dev libfmt-dev libsqlite3-dev libpq-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  curl jq procps
)
if [[ "${1:-}" == "--test" ]]; then
  # postgresql-15: the PostgreSQL peer's tests start a private server (initdb, postgres).
  packages+=(shellcheck valgrind python3 postgresql-15)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "Installing missing packages: ${missing[*]}"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
