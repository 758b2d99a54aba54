#!/usr/bin/env python3
"""Invoke each sample event through `cargo lambda invoke` (the runtime emulator
started by scripts/run-local) and check the answer. Stdlib only."""
import argparse
import json
import subprocess
import sys

# (function, event file, expected HTTP status, expected body fragment)
WEBHOOK_CASES = [
    ("enrollment-webhook", "events/webhook-existing-user.json", 200,
     '"message":"User enrollment status verified for 2 course(s)"'),
    ("enrollment-webhook", "events/webhook-new-user.json", 200,
     '"message":"Enrollment allowance verified for 1 course(s)"'),
    # Replaying the same event is harmless: same answer, nothing duplicated.
    ("enrollment-webhook", "events/webhook-new-user.json", 200,
     '"message":"Enrollment allowance verified for 1 course(s)"'),
    ("enrollment-webhook", "events/webhook-bad-signature.json", 401,
     '{"success":false,"message":"Invalid signature"}'),
    ("enrollment-webhook", "events/webhook-validation-error.json", 400,
     '"message":{"name":["This field may not be blank."]'),
    ("enrollment-webhook", "events/webhook-unknown-course.json", 400,
     '"message":"Course course-v1:edX+Nope+2099 does not exist"'),
]


def load_extra_cases():
    """Cases other functions declare next to their sample events."""
    try:
        with open("events/course-sync/expectations.json", encoding="utf-8") as f:
            return [tuple(c) for c in json.load(f)]
    except FileNotFoundError:
        return []


def invoke(function, data_file, port):
    out = subprocess.run(
        ["cargo", "lambda", "invoke", function, "--invoke-address", "127.0.0.1",
         "--invoke-port", str(port), "--data-file", data_file, "--output-format", "json"],
        capture_output=True, text=True, timeout=600,
    )
    if out.returncode != 0:
        raise SystemExit(f"invoke {function} {data_file} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    failures = 0
    for function, data_file, status, fragment in WEBHOOK_CASES + load_extra_cases():
        answer = invoke(function, data_file, args.port)
        got_status = answer.get("statusCode", 200)
        body = answer.get("body", json.dumps(answer, separators=(",", ":")))
        if not isinstance(body, str):
            body = json.dumps(body, separators=(",", ":"))
        ok = got_status == status and fragment in body
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {function} {data_file}: {got_status} {body[:160]}")
    if failures:
        sys.exit(f"{failures} invocation(s) answered wrongly")
    print("all sample invocations answered as expected")


if __name__ == "__main__":
    main()
