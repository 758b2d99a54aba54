#!/usr/bin/env python3
"""Reference oracle for the differential tests: the real CPython json/hmac, the
real Django REST framework serializer of the lernito-openedx plugin, and the
real edx-opaque-keys. Reads one JSON request per line on stdin, answers one JSON
line per request on stdout.

Requests: {"op": "sign", "body": <hex bytes>, "secret": str}
          {"op": "validate", "body": <hex bytes>}
          {"op": "key", "key": <str>}
"""
import hashlib
import hmac
import json
import sys

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    USE_I18N=True,
    LANGUAGE_CODE="en-us",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
)
django.setup()

from opaque_keys import InvalidKeyError  # noqa: E402
from opaque_keys.edx.keys import CourseKey  # noqa: E402
from rest_framework import serializers  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402


class LernitoWebhookSerializer(serializers.Serializer):
    """Test scaffolding: the plugin's serializer as published in
    edSPIRIT/lernito-openedx lernito_openedx/serializers.py."""

    name = serializers.CharField(max_length=255)
    family = serializers.CharField(max_length=255)
    username = serializers.CharField(max_length=255)
    email = serializers.EmailField()
    courseIds = serializers.ListField(child=serializers.CharField(max_length=255))

    def validate(self, data):
        if not data.get("courseIds"):
            raise serializers.ValidationError("At least one courseId must be provided")
        return data


def strict_constant(value):
    # DRF's JSONParser with STRICT_JSON (the default) refuses NaN/Infinity.
    raise ValueError("Out of range float values are not JSON compliant: " + repr(value))


def drf_parse(raw):
    """What rest_framework.parsers.JSONParser does with the body."""
    text = raw.decode("utf-8")  # strict: invalid UTF-8 is a parse error
    return json.loads(text, parse_constant=strict_constant)


def sign(req):
    raw = bytes.fromhex(req["body"])
    try:
        data = drf_parse(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {"ok": False}
    secret = req["secret"].encode("utf-8")
    compact = json.dumps(data, sort_keys=True, separators=(",", ":"))
    default = json.dumps(data, sort_keys=True)
    return {
        "ok": True,
        "compact": compact,
        "compact_sig": hmac.new(secret, compact.encode("utf-8"), hashlib.sha256).hexdigest(),
        "default_sig": hmac.new(secret, default.encode("utf-8"), hashlib.sha256).hexdigest(),
    }


def validate(req):
    data = drf_parse(bytes.fromhex(req["body"]))
    serializer = LernitoWebhookSerializer(data=data)
    if serializer.is_valid():
        v = serializer.validated_data
        return {"valid": True, "data": [v["name"], v["family"], v["username"], v["email"], list(v["courseIds"])]}
    return {"valid": False, "errors": JSONRenderer().render(serializer.errors).decode("utf-8", "surrogatepass")}


def key(req):
    try:
        return {"ok": True, "key": str(CourseKey.from_string(req["key"]))}
    except InvalidKeyError:
        return {"ok": False}


OPS = {"sign": sign, "validate": validate, "key": key}


def main():
    out = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        try:
            answer = OPS[req["op"]](req)
        except Exception as exc:  # an oracle crash must be visible, not hidden
            answer = {"crash": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer, ensure_ascii=True) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
