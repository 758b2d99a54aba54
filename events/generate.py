#!/usr/bin/env python3
"""Regenerate the sample API Gateway (HTTP API, payload v2) events for the
enrollment webhook, signed exactly as Lernito signs: HMAC-SHA256 over
json.dumps(payload, sort_keys=True) (the plugin README's recipe).

Secret: the documented local sample secret, or $LERNITO_WEBHOOK_SECRET.
Usage: python3 events/generate.py            (writes events/webhook-*.json)
Stdlib only, so it runs anywhere.
"""
import hashlib
import hmac
import json
import os
import pathlib

SAMPLE_SECRET = "local-sample-secret"
HERE = pathlib.Path(__file__).resolve().parent


def sign(secret, payload):
    message = json.dumps(payload, sort_keys=True).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def http_api_event(body, signature, path="/api/lernito/webhook/", method="POST"):
    """An API Gateway HTTP API (payload format 2.0) event, as Lambda receives it."""
    headers = {
        "content-type": "application/json",
        "host": "abc123.execute-api.eu-west-1.amazonaws.com",
        "user-agent": "Lernito-Webhook/1.0",
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-proto": "https",
    }
    if signature is not None:
        headers["x-lernito-signature"] = signature
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "Lernito-Webhook/1.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "22/Nov/2026:18:00:00 +0000",
            "timeEpoch": 1795370400000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def main():
    secret = os.environ.get("LERNITO_WEBHOOK_SECRET", SAMPLE_SECRET).split(",")[0]
    existing = {
        "email": "learner@example.com",
        "name": "Leila",
        "family": "Ahmadi",
        "username": "learner",
        "courseIds": ["course-v1:edX+DemoX+Demo_Course", "course-v1:edX+E2E-101+course"],
    }
    new_user = {
        "email": "new.buyer@example.com",
        "name": "\u0645\u0631\u06cc\u0645",  # Persian name: exercises \\uXXXX escaping
        "family": "\u0631\u0636\u0627\u06cc\u06cc",
        "username": "maryam",
        "courseIds": ["course-v1:edX+DemoX+Demo_Course"],
    }
    invalid = {"email": "not-an-email", "name": "", "family": "X", "courseIds": []}
    unknown_course = dict(existing, courseIds=["course-v1:edX+Nope+2099"])
    cases = {
        "webhook-existing-user.json": (existing, sign(secret, existing)),
        "webhook-new-user.json": (new_user, sign(secret, new_user)),
        "webhook-bad-signature.json": (existing, "0" * 64),
        "webhook-validation-error.json": (invalid, sign(secret, invalid)),
        "webhook-unknown-course.json": (unknown_course, sign(secret, unknown_course)),
    }
    for name, (payload, signature) in cases.items():
        # Lernito sends compact or spaced JSON; either way the signature covers the
        # sorted json.dumps form, not these bytes.
        body = json.dumps(payload, ensure_ascii=False)
        event = http_api_event(body, signature)
        (HERE / name).write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote events/{name}")


if __name__ == "__main__":
    main()
