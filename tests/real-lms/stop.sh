#!/usr/bin/env bash
# Stop the LMS started by start.sh PORT, by the PID it recorded (the server process itself).
set -euo pipefail
PORT="${1:?usage: $0 PORT}"
DATA="${LMS_DATA_DIR:-${TMPDIR:-/tmp}/edx-hooks-lms-$PORT}"
PIDFILE="$DATA/lms.pid"
[ -f "$PIDFILE" ] || exit 0
PID="$(cat "$PIDFILE")"
if kill -0 "$PID" 2>/dev/null; then
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$PID" 2>/dev/null && kill -KILL "$PID" 2>/dev/null || true
fi
rm -f "$PIDFILE"
[ "${LMS_KEEP_DATA:-0}" = 1 ] || rm -rf "$DATA"
