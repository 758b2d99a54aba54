#!/usr/bin/env bash
# Start the test Richie on 127.0.0.1:PORT (SQLite, no Elasticsearch, no Redis) and return
# once POST /api/v1.0/course-runs-sync answers. The server keeps running; stop.sh stops it.
#
#   tests/richie/start.sh PORT
#
# Prints, last line:  RICHIE_READY url=http://127.0.0.1:PORT pid=N data=DIR
# Each start gets a fresh copy of the migrated template database, then seed.py runs.
#
# Environment (all optional):
#   RICHIE_VENV               virtualenv with richie        [<root>/.venv-richie] (install.sh creates it)
#   RICHIE_DATA_DIR           DB, log, pid, seed.json       [${TMPDIR:-/tmp}/edx-hooks-richie-PORT]
#   RICHIE_SYNC_SECRETS       comma-separated sync secrets  [local-richie-secret]
#   RICHIE_COURSE_REGEX       LMS COURSE_REGEX              [^.*/courses/(?P<course_id>.*)/(?:info|course)/?$]
#   RICHIE_DEFAULT_SYNC_MODE  manual|sync_to_draft|sync_to_public [sync_to_public]
#   RICHIE_NO_UPDATE_FIELDS   comma-separated COURSE_RUN_SYNC_NO_UPDATE_FIELDS
#   RICHIE_SEED               JSON course pages/runs to create (see seed.py)
#   RICHIE_DEBUG=1            Django DEBUG
#   RICHIE_READY_TIMEOUT      seconds                       [60]
set -euo pipefail
PORT="${1:?usage: $0 PORT}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export RICHIE_VENV="${RICHIE_VENV:-$ROOT/.venv-richie}"
export RICHIE_DATA_DIR="${RICHIE_DATA_DIR:-${TMPDIR:-/tmp}/edx-hooks-richie-$PORT}"
export RICHIE_DB_PATH="$RICHIE_DATA_DIR/db.sqlite3"
export PYTHONPATH="$HERE"
export DJANGO_SETTINGS_MODULE=edx_hooks_richie_settings
export PYTHONDONTWRITEBYTECODE=1
PIDFILE="$RICHIE_DATA_DIR/richie.pid"
LOG="$RICHIE_DATA_DIR/richie.log"

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "[richie] already running on port $PORT (pid $(cat "$PIDFILE")); run $HERE/stop.sh $PORT first" >&2
  exit 1
fi

"$HERE/install.sh" >&2
TEMPLATE="$("$HERE/template-db-path.sh")"

mkdir -p "$RICHIE_DATA_DIR"
cp "$TEMPLATE" "$RICHIE_DB_PATH"
(cd "$RICHIE_DATA_DIR" && "$RICHIE_VENV/bin/django-admin" shell < "$HERE/seed.py") >&2

cd "$RICHIE_DATA_DIR"
# setsid: the server gets its own process group, so stop.sh can end it (and only it).
setsid "$RICHIE_VENV/bin/django-admin" runserver "127.0.0.1:$PORT" --noreload --nothreading >"$LOG" 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$PIDFILE"

"$RICHIE_VENV/bin/python" - "$PORT" "$PID" "${RICHIE_READY_TIMEOUT:-60}" <<'PY' || { echo "[richie] not ready; last log lines:" >&2; tail -n 40 "$LOG" >&2; kill "$PID" 2>/dev/null || true; exit 1; }
import http.client, os, sys, time
port, pid, deadline = int(sys.argv[1]), int(sys.argv[2]), time.time() + float(sys.argv[3])
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("runserver exited")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("POST", "/api/v1.0/course-runs-sync", body=b"{}", headers={"Content-Type": "application/json"})
        if conn.getresponse().status == 403:  # "Missing authentication.": the view is up
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit("timed out")
PY
echo "RICHIE_READY url=http://127.0.0.1:$PORT pid=$PID data=$RICHIE_DATA_DIR"
