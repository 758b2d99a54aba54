#!/usr/bin/env bash
# Print the path of the migrated template database matching the installed Richie and
# our settings module (any change to either gives a new name, hence a re-migration).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${RICHIE_VENV:-$ROOT/.venv-richie}"
key=$(cat "$HERE/requirements.txt" "$HERE/edx_hooks_richie_settings.py" | sha256sum | cut -c1-16)
echo "$VENV/template-$key.sqlite3"
