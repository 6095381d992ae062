#!/usr/bin/env bash
# Helpers of the shell-level tests. Sourced, not run; the caller sets `failures=0` first.

# check DESCRIPTION COMMAND...: runs COMMAND; prints ok or FAIL and counts failures.
check() {
  local what=$1
  shift
  if "$@"; then
    echo "ok:   $what"
  else
    echo "FAIL: $what"
    failures=$((failures + 1))
  fi
}
