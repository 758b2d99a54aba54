#!/usr/bin/env python3
"""Assemble BENCHMARKS.md and docs/benchmarks.png from the raw outputs that
scripts/bench leaves in .local/. Every number here was measured by that run."""
import datetime
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import zipfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

arm64_note = sys.argv[1] if len(sys.argv) > 1 else ""
webhook = open(".local/bench-webhook.md", encoding="utf-8").read()
resync = open(".local/bench-resync.md", encoding="utf-8").read()
cold401 = [json.loads(line) for line in open(".local/cold-401.jsonl")]
cold10 = [json.loads(line) for line in open(".local/cold-10.jsonl")]
for run in cold10:
    assert run["response"]["statusCode"] == 200, run
for run in cold401:
    assert run["response"]["statusCode"] == 401, run

# Round-trip table: | courses | default | wide | concurrency 1 | plugin pattern | speed-ups |
rows = []
for line in webhook.splitlines():
    m = re.match(r"\| (\d+) \| ([\d.]+) ms .*?\| ([\d.]+) ms .*?\| ([\d.]+) ms .*?\| ([\d.]+) ms", line)
    if m:
        rows.append(tuple(float(x) for x in m.groups()))
courses = [r[0] for r in rows]
plt.figure(figsize=(7, 4.2))
plt.plot(courses, [r[1] for r in rows], "o-", label="default concurrency (8)")
plt.plot(courses, [r[2] for r in rows], "s-", label="concurrency ≥ courses+1")
plt.plot(courses, [r[3] for r in rows], "^-", label="concurrency 1")
plt.plot(courses, [r[4] for r in rows], "v-", label="plugin's call pattern (naive port)")
plt.plot(courses, [40.0] * len(courses), "k--", label="ideal: 2 round trips")
plt.xlabel("courses in the webhook")
plt.ylabel("end-to-end latency (ms), 20 ms per LMS call")
plt.yscale("log")
plt.grid(True, which="both", alpha=0.3)
plt.legend(loc="upper left")
plt.title("Enrollment webhook latency vs. number of courses")
plt.tight_layout()
plt.savefig("docs/benchmarks.png", dpi=110)


def size(path):
    return os.path.getsize(path) if os.path.exists(path) else None


def zipped(path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    return len(buf.getvalue())


mib = lambda b: f"{b / 1048576:.1f} MiB"  # noqa: E731
bins = {}
for fn in ("enrollment-webhook", "course-sync"):
    p = f"target/lambda/{fn}/bootstrap"
    bins[fn] = (size(p), zipped(p) if size(p) else None)

cold_ms = statistics.median(r["cold_start_ms"] for r in cold401)
cold10_ms = statistics.median(r["cold_start_ms"] for r in cold10)
rss = max(r["peak_rss_kib"] or 0 for r in cold10) / 1024

# Cost model: list prices (AWS pricing pages, us-east-1, as published in 2025).
GB_S_ARM = 0.0000133334
PER_REQ = 0.20 / 1e6
HTTP_API = 1.00 / 1e6
SECRET_MONTH = 0.40
SECRET_CALLS = 0.05 / 10000
one_course_ms = rows[0][1] if rows else 45.0
m = re.search(r"bounded[^\n]*?\|\s*([\d.]+) s", resync)
resync_s = float(m.group(1)) if m else 0.0
webhook_cost = 100_000 * (PER_REQ + HTTP_API + GB_S_ARM * 0.125 * one_course_ms / 1000)
resync_cost = 30 * (PER_REQ + GB_S_ARM * 0.125 * resync_s)
secrets_cost = 4 * SECRET_MONTH + 2 * (30 * 24 * 12) * SECRET_CALLS  # 4 secrets; ≤ 1 fetch / 5 min / warm instance

machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
today = datetime.date.today().isoformat()

doc = f"""# Benchmarks

Measured by `scripts/bench` on {today}, machine: {machine}, {rustc}. All ratios come
from one run. Raw outputs: `.local/` after running it.

## 1. Handler CPU cost (`cargo bench -p edx-hooks-tests --bench webhook`)

{webhook.split("## Round trips")[0].replace("## Handler CPU cost", "").strip()}

Goal ≤ 20 µs for 1 KiB. The 1 KiB payload is deliberately hostile for the
canonicaliser (mostly Persian, CJK and emoji, each escaped to `\\uXXXX`, plus ~30
extra keys); a typical Lernito body is ~250 bytes.

## 2. Round trips (same command)

{webhook.split("## Round trips")[1].split(chr(10), 1)[1].strip()}

![latency vs courses](docs/benchmarks.png)

Course existence is asked for all courses of a request in one course-list call
(`/api/courses/v1/courses/?course_keys=…`), alongside the user lookup; only courses
that call does not list are checked one by one. With the default bound (8 LMS calls in
flight) 10 courses then cost one round for the checks and two for the enrollments
(≈ 3 round trips; goal ≤ 3.5); with a bound ≥ courses + 1 (`OPENEDX_MAX_CONCURRENCY`)
≈ 2 round trips. The batched check also shortens the concurrency-1 run (12 sequential
calls instead of 21), so the speed-up over "the same code with concurrency 1" is below
the one over the plugin's call pattern (one check per course, one call at a time).

Why the issue's two goals for 10 courses (≤ 3.5 round trips at the default bound, and
≥ 5× the same code at concurrency 1) cannot both hold at a bound of 8: nothing may be
enrolled before every course is confirmed, so at least one round precedes the
enrollments, and 10 enrollment POSTs at 8 in flight take two rounds: ≥ 3 round trips.
For the ratio to reach 5× the sequential run would then need ≥ 15 calls, i.e. one check
per course (21 calls); but 10 checks plus the user lookup are 11 calls, two rounds at a
bound of 8, which makes the concurrent run ≥ 4 round trips. We keep the lower absolute
latency (≈ 3 round trips; ≈ 4× the same code sequentially, ≈ 7× the plugin's pattern,
see the table); with `OPENEDX_MAX_CONCURRENCY ≥ 10` both goals hold (≈ 2 round trips,
≥ 6×).

## 3. Cold start, size, memory (`scripts/fake_runtime_api.py`, release build)

| measure | value | goal |
|---|---|---|
| process start → first answered invocation (401 path, secret from env), median of 5 | {cold_ms:.1f} ms | ≤ 50 ms |
| process start → answered 10-course webhook (token fetch + user lookup + course list + 10 enrollments), median of 3 | {cold10_ms:.1f} ms | |
| peak RSS during a 10-course webhook | {rss:.1f} MiB | ≤ 32 MiB |
| enrollment-webhook binary / zipped ({platform.machine()}, `cargo lambda build --release`) | {mib(bins['enrollment-webhook'][0])} / {mib(bins['enrollment-webhook'][1])} | ≤ 8 MiB zipped |
| course-sync binary / zipped | {mib(bins['course-sync'][0])} / {mib(bins['course-sync'][1])} | |
| arm64 artefact | {arm64_note} | |

## 4. Full resync (`cargo bench -p course-sync --bench resync`)

{resync.strip()}

## 5. Cost model (128 MB, arm64)

Inputs: Lambda arm64 $0.0000133334 per GB-s and $0.20 per million requests; HTTP API
$1.00 per million requests; Secrets Manager $0.40 per secret-month and $0.05 per 10,000
calls (AWS list prices, us-east-1, as published in 2025 — check the pricing pages).
Durations are the measured ones above (warm 1-course webhook {one_course_ms:.1f} ms incl.
20 ms emulated LMS latency per call; resync {resync_s:.1f} s per 5,000 courses); free
tiers ignored.

| item | monthly |
|---|---|
| 100,000 webhooks (requests + API Gateway + duration) | ${webhook_cost:.2f} |
| daily resync of 5,000 courses | ${resync_cost:.3f} |
| 4 secrets + refreshes (≤ 1 per 5 min per warm instance, 2 instances) | ${secrets_cost:.2f} |
| **total** | **${webhook_cost + resync_cost + secrets_cost:.2f}** |
"""
open("BENCHMARKS.md", "w", encoding="utf-8").write(doc)
