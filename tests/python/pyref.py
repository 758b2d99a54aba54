#!/usr/bin/env python3
"""Reference oracle for tests/tests/python_differential.rs.

Runs the real components the lernito-openedx plugin runs on: CPython's json and
hmac, Django REST framework with the plugin's serializer, Django's
EmailValidator, and edx-opaque-keys (+ edx-ccx-keys, as installed in
edx-platform). Protocol: one JSON object per line on stdin, one JSON answer per
line on stdout, in order. Bytes travel hex-encoded so that invalid UTF-8 and
lone surrogates survive the trip.

The first line written is {"ready": true, ...versions...}, or {"fatal": "..."}
if the packages from tests/python/requirements.txt are missing.

Requests:
  {"op": "sign", "body": <hex>, "secret": <str>}
  {"op": "validate", "body": <hex>}
  {"op": "key", "key": <str>}
  {"op": "emails", "emails": [<str>, ...]}
  {"op": "unicode"}
"""
import hashlib
import hmac
import json
import re
import sys
import unicodedata


def emit(obj):
    sys.stdout.write(json.dumps(obj, ensure_ascii=True) + "\n")
    sys.stdout.flush()


try:
    from importlib.metadata import version

    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        USE_I18N=True,
        LANGUAGE_CODE="en-us",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
    )
    django.setup()

    import rest_framework
    from django.core.exceptions import ValidationError as DjangoValidationError
    from django.core.validators import EmailValidator
    from opaque_keys import InvalidKeyError
    from opaque_keys.edx.keys import CourseKey
    from rest_framework import serializers
    from rest_framework.renderers import JSONRenderer

    VERSIONS = {
        "python": sys.version.split()[0],
        "unidata": unicodedata.unidata_version,
        "django": django.get_version(),
        "drf": rest_framework.VERSION,
        "opaque_keys": version("edx-opaque-keys"),
        "ccx_keys": version("edx-ccx-keys"),
    }
except Exception as exc:  # noqa: BLE001 - any setup failure must be reported, not hidden
    emit({"fatal": f"{type(exc).__name__}: {exc}"})
    sys.exit(2)


class LernitoWebhookSerializer(serializers.Serializer):
    """Test scaffolding: a copy of the plugin's serializer, from
    edSPIRIT/lernito-openedx lernito_openedx/serializers.py."""

    name = serializers.CharField(max_length=255)
    family = serializers.CharField(max_length=255)
    username = serializers.CharField(max_length=255)
    email = serializers.EmailField()
    courseIds = serializers.ListField(
        child=serializers.CharField(max_length=255)
    )

    def validate(self, data):
        if not data.get('courseIds'):
            raise serializers.ValidationError(
                "At least one courseId must be provided"
            )
        return data


def strict_constant(value):
    # rest_framework.parsers.JSONParser with STRICT_JSON (the default).
    raise ValueError("Out of range float values are not JSON compliant: " + repr(value))


def drf_parse(raw):
    """What JSONParser does with a UTF-8 body: strict decode, strict constants."""
    return json.loads(raw.decode("utf-8"), parse_constant=strict_constant)


def sign(req):
    raw = bytes.fromhex(req["body"])
    try:
        data = drf_parse(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    secret = req["secret"].encode("utf-8")
    # The plugin: json.dumps(data, sort_keys=True) (Lernito's README); the
    # compact variant is what some senders use.
    default = json.dumps(data, sort_keys=True)
    compact = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return {
        "ok": True,
        "default": default,
        "compact": compact,
        "default_sig": hmac.new(secret, default.encode("utf-8"), hashlib.sha256).hexdigest(),
        "compact_sig": hmac.new(secret, compact.encode("utf-8"), hashlib.sha256).hexdigest(),
    }


def validate(req):
    data = drf_parse(bytes.fromhex(req["body"]))
    serializer = LernitoWebhookSerializer(data=data)
    if serializer.is_valid():
        v = serializer.validated_data
        return {
            "valid": True,
            "data": {
                "name": v["name"],
                "family": v["family"],
                "username": v["username"],
                "email": v["email"],
                "courseIds": list(v["courseIds"]),
            },
        }
    # The plugin's 400 body, rendered by DRF's default renderer.
    body = JSONRenderer().render({"success": False, "message": serializer.errors})
    return {"valid": False, "response": body.hex()}


def key(req):
    try:
        return {"ok": True, "key": str(CourseKey.from_string(req["key"]))}
    except InvalidKeyError:
        return {"ok": False}


EMAIL_VALIDATOR = EmailValidator()


def emails(req):
    out = []
    for value in req["emails"]:
        try:
            EMAIL_VALIDATOR(value)
            out.append(True)
        except DjangoValidationError:
            out.append(False)
    return {"valid": out}


def ranges(pattern):
    rx = re.compile(pattern)
    out, start = [], None
    for cp in range(0x110000):
        hit = rx.match(chr(cp)) is not None
        if hit and start is None:
            start = cp
        elif not hit and start is not None:
            out.append([start, cp - 1])
            start = None
    if start is not None:
        out.append([start, 0x10FFFF])
    return out


def unicode_tables(_req):
    return {
        "word": ranges(r"\w"),
        "decimal": ranges(r"\d"),
        "space": [cp for cp in range(0x110000) if chr(cp).isspace()],
    }


OPS = {"sign": sign, "validate": validate, "key": key, "emails": emails, "unicode": unicode_tables}


def main():
    emit({"ready": True, **VERSIONS})
    for line in sys.stdin:
        req = json.loads(line)
        try:
            answer = OPS[req["op"]](req)
        except Exception as exc:  # noqa: BLE001 - an oracle crash must be visible, not hidden
            answer = {"crash": f"{type(exc).__name__}: {exc}"}
        emit(answer)


if __name__ == "__main__":
    main()
