#!/usr/bin/env bash
# Prepare a real Open edX LMS (openedx-platform's own code) for the conformance tier:
#   1. unpack OPENEDX_PLATFORM_SRC (a checkout, a .tar.xz of one, or a folder holding
#      exactly one such .tar.xz) into <root>/.real-lms/src-<digest> (a checkout is used in place);
#   2. a venv (<root>/.venv-lms) with the platform's requirements/edx/base.txt, rebuilt only
#      when that file's or requirements-extra.txt's digest changes;
#   3. RSA keys for the LMS's JWT signing, generated once per state folder.
# Prints the platform folder on its last line. Idempotent; seconds when nothing changed.
#
# Environment: OPENEDX_PLATFORM_SRC (required), LMS_VENV (default <root>/.venv-lms),
#              LMS_STATE (default <root>/.real-lms), PYTHON (default python3).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${LMS_VENV:-$ROOT/.venv-lms}"
STATE="${LMS_STATE:-$ROOT/.real-lms}"
PY="${PYTHON:-python3}"
SRC_IN="${OPENEDX_PLATFORM_SRC:?set OPENEDX_PLATFORM_SRC to an openedx-platform checkout or .tar.xz}"
mkdir -p "$STATE"
exec 9>"$STATE/install.lock"
flock 9

log() { echo "[real-lms] $*" >&2; }

# --- 1. the platform tree
if [ -d "$SRC_IN" ] && [ -f "$SRC_IN/manage.py" ]; then
  PLATFORM="$(cd "$SRC_IN" && pwd)"
else
  tarball="$SRC_IN"
  if [ -d "$SRC_IN" ]; then
    mapfile -t found < <(find "$SRC_IN" -maxdepth 1 -name '*.tar.xz' | sort)
    [ "${#found[@]}" = 1 ] || { log "$SRC_IN: no manage.py and not exactly one .tar.xz"; exit 2; }
    tarball="${found[0]}"
  fi
  [ -f "$tarball" ] || { log "$tarball: not found"; exit 2; }
  digest=$(sha256sum "$tarball" | cut -c1-16)
  PLATFORM="$STATE/src-$digest"
  if [ ! -f "$PLATFORM/manage.py" ]; then
    log "unpacking $(basename "$tarball") ..."
    rm -rf "$PLATFORM.tmp" && mkdir -p "$PLATFORM.tmp"
    tar -xJf "$tarball" -C "$PLATFORM.tmp" --strip-components=1
    [ -f "$PLATFORM.tmp/manage.py" ] || { log "$tarball holds no openedx-platform tree"; exit 2; }
    mv "$PLATFORM.tmp" "$PLATFORM"
  fi
fi
[ -f "$PLATFORM/requirements/edx/base.txt" ] || { log "$PLATFORM: no requirements/edx/base.txt"; exit 2; }

# --- 2. build dependencies (Debian), only what pip needs to compile the platform's C extensions
need=()
for pkg in pkg-config libmariadb-dev libxmlsec1-dev libxml2-dev libxslt1-dev libssl-dev gettext \
           libgeos-dev libjpeg-dev zlib1g-dev libffi-dev swig libsqlite3-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "apt-get install ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- 3. the venv, keyed by the requirements' digest
want=$(cat "$PLATFORM/requirements/edx/base.txt" "$HERE/requirements-extra.txt" | sha256sum | cut -c1-64)
stamp="$VENV/.edx-hooks-lms.sha256"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  t0=$(date +%s)
  log "installing the platform's requirements into $VENV (PyPI; ~2-3 min warm, longer cold) ..."
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -U pip wheel
  work="$(mktemp -d)"
  # The one git-hosted requirement (a proctoring backend) is not on PyPI and not on our paths.
  grep -v '^-e git+' "$PLATFORM/requirements/edx/base.txt" > "$work/base.txt"
  echo 'setuptools<70' > "$work/build-constraints.txt"
  PIP_BUILD_CONSTRAINT="$work/build-constraints.txt" \
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$work/base.txt"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements-extra.txt"
  rm -rf "$work"
  echo "$want" > "$stamp"
  log "venv ready in $(( $(date +%s) - t0 )) s"
fi
# The platform's plugin entry points (djangoapps) register only when it is installed;
# --no-deps: it is re-pointed at this tree in seconds when the tree moved.
if [ "$(cat "$VENV/.edx-hooks-lms.platform" 2>/dev/null)" != "$PLATFORM" ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e "$PLATFORM"
  echo "$PLATFORM" > "$VENV/.edx-hooks-lms.platform"
fi

# --- 4. JWT signing keys for this state folder
if [ ! -f "$STATE/jwt_keys.json" ]; then
  "$VENV/bin/python" - "$STATE/jwt_keys.json" <<'PYEOF'
import json, sys
from jwcrypto import jwk
key = jwk.JWK.generate(kty="RSA", size=2048, kid="edx-hooks-real-lms")
json.dump({"private": json.loads(key.export_private()),
           "public": {"keys": [json.loads(key.export_public())]}}, open(sys.argv[1], "w"))
PYEOF
fi
echo "$PLATFORM"
