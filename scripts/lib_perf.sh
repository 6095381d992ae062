#!/usr/bin/env bash
# Shared helpers of scripts/m17_performance_check.sh, scripts/compare_m17_performance.sh,
# benches/capacity/capacity_vs_wrk.sh and benches/peers/traversal_vs_postgres.sh.
# Sourced, not run. Functions only; every name starts with perf_.

# perf_die CODE MESSAGE...: prints "error: MESSAGE" to stderr and exits with CODE.
perf_die() {
  local code=$1
  shift
  printf 'error: %s\n' "$*" >&2
  exit "$code"
}

# perf_usage SCRIPT: prints SCRIPT's header comment (line 2 up to `set -euo`) as its --help.
perf_usage() {
  sed -n '2,/^set -euo/p' "$1" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

# perf_abspath PATH: PATH made absolute against the current directory (not resolved further).
perf_abspath() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

# perf_valid_task ID: true when ID is a safe task id (letters, digits, '.', '-', '_').
perf_valid_task() {
  [[ $1 =~ ^[A-Za-z0-9._-]+$ ]]
}

# perf_newest_set DIR PREFIX TASK PHASE: prints, one per line in repetition order, the result
# files of the newest set named PREFIX TASK _ PHASE _ YYYYMMDD_HHMMSS [_rN] .json in DIR.
# A set is every file sharing the newest timestamp (one file, or the _r1, _r2 ... repetitions
# of one m17_performance_check.sh invocation). Prints nothing when there is none.
perf_newest_set() {
  local dir=$1 prefix=$2 task=$3 phase=$4
  local stem="${prefix}${task}_${phase}_"
  local f name rest newest=""
  local -a stamps=() files=()
  for f in "$dir/$stem"*.json; do
    [[ -f $f ]] || continue
    name=${f##*/}
    rest=${name#"$stem"}
    if [[ $rest =~ ^([0-9]{8}_[0-9]{6})(_r[0-9]+)?\.json$ ]]; then
      stamps+=("${BASH_REMATCH[1]}")
      files+=("$f")
      if [[ ${BASH_REMATCH[1]} > $newest ]]; then
        newest=${BASH_REMATCH[1]}
      fi
    fi
  done
  local i
  for i in "${!files[@]}"; do
    if [[ ${stamps[$i]} == "$newest" ]]; then
      printf '%s\n' "${files[$i]}"
    fi
  done | sort -V
}

# perf_proc_state PID: the one-letter state of PID from /proc (R, S, Z, ...), or "" if gone.
perf_proc_state() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  printf '%s\n' "${stat%% *}"
}

# perf_alive PID: true while PID runs (a zombie, exited but not yet reaped, counts as gone).
perf_alive() {
  local state
  state=$(perf_proc_state "$1")
  [[ -n $state && $state != Z && $state != X ]]
}

# perf_sample_resources PID FILE [INTERVAL]: appends one line per INTERVAL seconds (default
# 0.5, so at least one a second) with the process's RSS, CPU% over the interval and thread
# count, read from /proc/PID/stat and /proc/PID/status, until PID is gone. Run it in the
# background and stop it with kill when done.
#
# It starts no process per sample: only bash builtins ($EPOCHREALTIME, read, printf %()T, and
# read -t on a pipe nobody writes to as the sleep). An earlier version ran about eight programs
# (cat, awk, date, sleep) per sample, 16 a second, and on a 2-core machine they landed on the
# measured server's core often enough to raise the baseline's p99 from 0.8-0.9 ms to 1.2 ms
# (docs/engine_performance.md, "The observer's cost").
perf_sample_resources() {
  local pid=$1 out=$2 interval=${3:-0.5}
  local clk start now prev_now="" prev_ticks="" ticks rss threads stat rest cpu tenths elapsed
  local key value stamp sleep_fd
  local -a f
  clk=$(getconf CLK_TCK)
  exec {sleep_fd}<> <(:)
  start=${EPOCHREALTIME/./}
  {
    printf '# resource samples of pid %s (%s), every %ss, from /proc\n' "$pid" \
      "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)" "$interval"
    printf '# time_utc elapsed_s rss_kib cpu_percent threads\n'
  } >>"$out"
  while read -r stat 2>/dev/null <"/proc/$pid/stat"; do
    now=${EPOCHREALTIME/./}
    rest=${stat##*) }
    read -r -a f <<<"$rest"
    # After "pid (comm) ": f[0] is field 3 (state); utime, stime are fields 14, 15 and
    # num_threads is field 20 (proc(5)). A zombie has exited and is only waiting to be reaped.
    [[ ${f[0]} == Z || ${f[0]} == X ]] && break
    ticks=$((f[11] + f[12]))
    threads=${f[17]}
    rss=0
    while read -r key value _; do
      if [[ $key == VmRSS: ]]; then
        rss=$value
        break
      fi
    done 2>/dev/null <"/proc/$pid/status"
    cpu=nan
    if [[ -n $prev_ticks ]] && ((now > prev_now)); then
      tenths=$(((ticks - prev_ticks) * 1000000000 / (clk * (now - prev_now))))  # CPU% x 10
      printf -v cpu '%d.%d' $((tenths / 10)) $((tenths % 10))
    fi
    elapsed=$((now - start))
    TZ=UTC printf -v stamp '%(%Y-%m-%dT%H:%M:%SZ)T' -1
    printf '%s %d.%02d %s %s %s\n' "$stamp" $((elapsed / 1000000)) $((elapsed % 1000000 / 10000)) \
      "$rss" "$cpu" "$threads" >>"$out"
    prev_ticks=$ticks
    prev_now=$now
    read -r -t "$interval" -u "$sleep_fd" || true
  done
  exec {sleep_fd}<&-
}

# perf_check_int OPTION VALUE MIN MAX: exits 2 (a usage error) unless VALUE is an integer in
# [MIN, MAX].
perf_check_int() {
  if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < $3 || $2 > $4)); then
    perf_die 2 "$1 must be an integer in $3..$4, not '$2'"
  fi
}

# perf_stop_pid PID [TENTHS]: SIGTERM to PID (a process this script started), up to TENTHS
# tenths of a second (default 100) for it to exit, then SIGKILL; reaps it when it is our child.
perf_stop_pid() {
  local pid=$1 limit=${2:-100} waited=0
  perf_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while perf_alive "$pid" && ((waited < limit)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if perf_alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
