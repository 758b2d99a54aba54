#!/usr/bin/env python3
"""Regenerate the course-sync sample events (stdlib only).

* API Gateway HTTP API (payload 2.0) events for POST /api/course-published/: the
  openedx-webhooks body with ?token=..., and a minimal {"course_id"} body signed with
  X-Edx-Hooks-Signature (hex HMAC-SHA256 of the raw body under the same secret).
* An SQS batch, an EventBridge "Scheduled Event", and two direct invocations.

Token/secret: the documented local value (scripts/run-local), or $COURSE_SYNC_TOKEN.
Usage: python3 events/course-sync/generate.py
"""
import hashlib
import hmac
import json
import os
import pathlib

TOKEN = os.environ.get("COURSE_SYNC_TOKEN", "local-course-sync-token").split(",")[0]
HERE = pathlib.Path(__file__).resolve().parent
DEMO = "course-v1:edX+DemoX+Demo_Course"
E2E = "course-v1:edX+E2E-101+course"
PATH = "/api/course-published/"


def http_event(body, token=None, signature_key=None):
    headers = {
        # What openedx-webhooks' requests.post sends (openedx_webhooks/utils.py::send).
        "accept": "text/plain",
        "content-type": "application/json",
        "host": "abc123.execute-api.eu-west-1.amazonaws.com",
        "user-agent": "python-requests/2.32.3",
        "x-forwarded-for": "203.0.113.20",
        "x-forwarded-proto": "https",
    }
    if signature_key is not None:
        headers["x-edx-hooks-signature"] = hmac.new(
            signature_key.encode(), body.encode(), hashlib.sha256
        ).hexdigest()
    event = {
        "version": "2.0",
        "routeKey": f"POST {PATH}",
        "rawPath": PATH,
        "rawQueryString": f"token={token}" if token is not None else "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": "POST",
                "path": PATH,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.20",
                "userAgent": "python-requests/2.32.3",
            },
            "requestId": "KbcaXmPLvHcESHB=",
            "routeKey": f"POST {PATH}",
            "stage": "$default",
            "time": "22/Nov/2026:18:00:00 +0000",
            "timeEpoch": 1795370400000,
        },
        "body": body,
        "isBase64Encoded": False,
    }
    if token is not None:
        event["queryStringParameters"] = {"token": token}
    return event


def sqs_event(bodies):
    return {
        "Records": [
            {
                "messageId": f"0b9e2a1c-0000-4000-8000-00000000000{i}",
                "receiptHandle": "AQEB-sample",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795370400000",
                    "SenderId": "AROAEXAMPLE:course-sync",
                    "ApproximateFirstReceiveTimestamp": "1795370400001",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:edx-hooks-CourseSyncQueue",
                "awsRegion": "eu-west-1",
            }
            for i, body in enumerate(bodies, start=1)
        ]
    }


SCHEDULE = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-22T03:00:00Z",
    "region": "eu-west-1",
    "resources": ["arn:aws:events:eu-west-1:123456789012:rule/edx-hooks-NightlyResync"],
    "detail": {},
}


def main():
    webhooks_body = (HERE / "openedx-webhooks-body.json").read_text().strip()
    minimal = json.dumps({"course_id": E2E})
    unknown = json.dumps({"course_id": "course-v1:edX+Nope+2099"})
    files = {
        "apigw-course-published.json": http_event(webhooks_body, token=TOKEN),
        "apigw-course-id-signed.json": http_event(minimal, signature_key=TOKEN),
        "apigw-bad-token.json": http_event(webhooks_body, token="not-the-token"),
        "apigw-unknown-course.json": http_event(unknown, token=TOKEN),
        "sqs-batch.json": sqs_event([json.dumps({"course_id": DEMO}), unknown]),
        "schedule-resync.json": SCHEDULE,
        "direct-course-ids.json": {"course_ids": [DEMO, E2E]},
        "direct-resync-all.json": {"resync": "all"},
    }
    for name, event in files.items():
        (HERE / name).write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
