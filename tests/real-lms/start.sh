#!/usr/bin/env bash
# Start a real Open edX LMS (openedx-platform's own code, see install.sh) on 127.0.0.1:PORT
# and return once its token endpoint grants the service application a JWT.
#
#   OPENEDX_PLATFORM_SRC=… tests/real-lms/start.sh PORT
#
# Prints, last line:  LMS_READY url=http://127.0.0.1:PORT pid=N data=DIR
# Each start gets a fresh copy of a template database (schema + seed.py), built once a day
# per (platform tree, venv, settings, seed). Served by `runserver --nothreading`: one
# request at a time, because SQLite under a threaded server answers concurrent writes with
# 500 "database is locked" (production's MySQL does not); requests still queue up
# concurrently at the socket, so the functions' own concurrency is exercised.
#
# Environment: LMS_DATA_DIR (DB, log, pid; default ${TMPDIR:-/tmp}/edx-hooks-lms-PORT),
#   EDX_HOOKS_LMS_BULK_ENROLL=1 (enable the bulk enrollment view), LMS_READY_TIMEOUT [120].
set -euo pipefail
PORT="${1:?usage: $0 PORT}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${LMS_VENV:-$ROOT/.venv-lms}"
STATE="${LMS_STATE:-$ROOT/.real-lms}"
DATA="${LMS_DATA_DIR:-${TMPDIR:-/tmp}/edx-hooks-lms-$PORT}"
PIDFILE="$DATA/lms.pid"
LOG="$DATA/lms.log"
log() { echo "[real-lms] $*" >&2; }

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  log "already running on port $PORT (pid $(cat "$PIDFILE")); run $HERE/stop.sh $PORT first"; exit 1
fi

PLATFORM="$("$HERE/install.sh" | tail -n 1)"
export PYTHONPATH="$HERE" DJANGO_SETTINGS_MODULE=edx_hooks_lms_settings SERVICE_VARIANT=lms \
       PYTHONDONTWRITEBYTECODE=1 EDX_HOOKS_LMS_PORT="$PORT"
manage() { (cd "$PLATFORM" && "$VENV/bin/python" manage.py lms "$@"); }

# --- the template database (under the install lock: parallel starts build it once)
key=$( { cat "$VENV/.edx-hooks-lms.sha256"; echo "$PLATFORM"; date -u +%F;
         cat "$HERE/edx_hooks_lms_settings.py" "$HERE/seed.py"; } | sha256sum | cut -c1-16)
TEMPLATE="$STATE/template-$key"
exec 9>"$STATE/install.lock"
flock 9
if [ ! -f "$TEMPLATE/db/ready" ]; then
  rm -rf "$STATE"/template-* && mkdir -p "$TEMPLATE/db" "$TEMPLATE/log" "$TEMPLATE/uploads"
  cp "$STATE/jwt_keys.json" "$TEMPLATE/"
  t0=$(date +%s)
  log "building the schema (migrate --run-syncdb, ~40 s) and seed data ..."
  export EDX_HOOKS_LMS_STATE="$TEMPLATE"
  manage migrate --run-syncdb --noinput > "$TEMPLATE/log/schema.log" 2>&1 &&
    manage migrate --run-syncdb --database student_module_history --noinput >> "$TEMPLATE/log/schema.log" 2>&1 ||
    { tail -n 40 "$TEMPLATE/log/schema.log" >&2; exit 1; }
  manage shell -c "exec(open('$HERE/seed.py').read())" > "$TEMPLATE/log/seed.log" 2>&1 ||
    { tail -n 40 "$TEMPLATE/log/seed.log" >&2; exit 1; }
  grep '^seeded' "$TEMPLATE/log/seed.log" >&2
  touch "$TEMPLATE/db/ready"
  log "template database ready in $(( $(date +%s) - t0 )) s"
fi
flock -u 9

rm -rf "$DATA" && mkdir -p "$DATA/db" "$DATA/log" "$DATA/uploads"
cp "$TEMPLATE"/db/*.sqlite3 "$DATA/db/"
cp "$STATE/jwt_keys.json" "$DATA/"
export EDX_HOOKS_LMS_STATE="$DATA"

cd "$PLATFORM"
# setsid: its own process group; exec: the recorded PID is the server itself, not a shell.
setsid bash -c 'exec "$0" manage.py lms runserver "127.0.0.1:$1" --noreload --nothreading --skip-checks' \
  "$VENV/bin/python" "$PORT" > "$LOG" 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$PIDFILE"

"$VENV/bin/python" - "$PORT" "$PID" "${LMS_READY_TIMEOUT:-120}" <<'PY' || { log "not ready; last log lines:"; tail -n 40 "$LOG" >&2; kill "$PID" 2>/dev/null || true; exit 1; }
import http.client, os, sys, time, urllib.parse
port, pid, deadline = int(sys.argv[1]), int(sys.argv[2]), time.time() + float(sys.argv[3])
form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "edx-hooks-service",
                               "client_secret": "edx-hooks-service-secret", "token_type": "jwt"})
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("runserver exited")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/oauth2/access_token", body=form,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        if conn.getresponse().status == 200:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.25)
sys.exit("timed out")
PY
echo "LMS_READY url=http://127.0.0.1:$PORT pid=$PID data=$DATA"
