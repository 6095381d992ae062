#!/usr/bin/env bash
# Runs every example of docs/http_api.md against a fresh in-memory engram and checks the
# status codes announced by the <!-- expect: ... --> comment above each block.
# Usage: http_api_doc_test.sh ENGRAM_BIN DOC
set -euo pipefail
engram_bin="$1"
doc="$2"
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The log exists before the server starts: the background job opens it for writing only when
# it gets to run, and a `sed` of a missing file would end this script under set -e.
: > "$work/server.log"
"$engram_bin" start --in-memory --port 0 --no-consolidation > "$work/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/server.log")
  [[ -n "$port" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; echo "engram exited" >&2; exit 1; }
  sleep 0.05
done
[[ -n "$port" ]] || { echo "engram did not report a port" >&2; exit 1; }

# Split the doc into numbered blocks with their expected codes.
awk -v dir="$work" '
  /<!-- expect:/ { sub(/.*<!-- expect: */, ""); sub(/ *-->.*/, ""); expect = $0; next }
  /^```bash/ { n++; inblock = 1; print expect > (dir "/block" n ".expect"); expect = ""; next }
  /^```/ && inblock { inblock = 0; next }
  inblock { print > (dir "/block" n ".sh") }
' "$doc"

blocks=0
failures=0
count=$(find "$work" -name 'block*.sh' | wc -l)
for i in $(seq 1 "$count"); do
  n="block$i"
  script="$work/$n.sh"
  read -r -a expected < "$work/$n.expect"
  if [[ ${#expected[@]} -eq 0 ]]; then
    echo "FAIL $n: no <!-- expect: ... --> comment above the block" >&2
    failures=$((failures + 1))
    continue
  fi
  sed -i "s|127.0.0.1:7432|127.0.0.1:$port|g" "$script"
  : > "$work/codes"
  # Each curl in the block records its status code; bodies go to the log.
  (
    # shellcheck disable=SC2317  # called by the sourced block
    curl() { command curl -sS -o "$work/body" -w '%{http_code}\n' "$@" >> "$work/codes"; cat "$work/body" >> "$work/bodies"; echo >> "$work/bodies"; }
    # shellcheck disable=SC1090
    source "$script"
  )
  mapfile -t got < "$work/codes"
  blocks=$((blocks + 1))
  if [[ "${got[*]}" != "${expected[*]}" ]]; then
    echo "FAIL $n: expected status ${expected[*]}, got ${got[*]}" >&2
    sed 's/^/    /' "$script" >&2
    echo "  responses:" >&2
    tail -n "${#got[@]}" "$work/bodies" | sed 's/^/    /' >&2
    failures=$((failures + 1))
  fi
done
echo "ran $blocks example blocks from $doc, $failures failed"
[[ $blocks -gt 10 && $failures -eq 0 ]]
