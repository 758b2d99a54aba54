#!/usr/bin/env bash
# Install Richie (tests/richie/requirements.txt, from PyPI) into <root>/.venv-richie and
# migrate a template SQLite database once, so each start only copies a file.
# Idempotent and quick when nothing changed.
#
# Environment: RICHIE_VENV (default <root>/.venv-richie), PYTHON (default python3).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${RICHIE_VENV:-$ROOT/.venv-richie}"
PY="${PYTHON:-python3}"
REQS="$HERE/requirements.txt"

# Tests start several Richies at once: one installer at a time (the others wait).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$VENV.lock"
  flock 9
fi

stamp="$VENV/.edx-hooks-richie.sha256"
want=$(sha256sum "$REQS" | cut -c1-64)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[richie] installing $(grep -v '^#' "$REQS" | tr '\n' ' ')into $VENV (PyPI) ..."
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  echo "$want" > "$stamp"
fi

# Template database: migrated once per (installed packages, settings file).
template="$("$HERE/template-db-path.sh")"
if [ ! -f "$template" ]; then
  echo "[richie] migrating the template database (first run only, ~20 s) ..."
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    export PYTHONPATH="$HERE" DJANGO_SETTINGS_MODULE=edx_hooks_richie_settings
    export RICHIE_DB_PATH="$work/db.sqlite3" RICHIE_DATA_DIR="$work" PYTHONDONTWRITEBYTECODE=1
    "$VENV/bin/django-admin" migrate --noinput -v 0
  )
  mv "$work/db.sqlite3" "$template"
fi
echo "[richie] ready: $VENV"
