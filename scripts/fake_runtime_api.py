#!/usr/bin/env python3
"""A minimal AWS Lambda Runtime API (the interface Lambda itself offers a custom
runtime) for measuring cold start: it starts the function's `bootstrap`, hands it
one event, and reports the time from process spawn to the answered invocation and
the process's peak RSS (VmHWM) after it. Stdlib only.

usage: fake_runtime_api.py BOOTSTRAP EVENT_FILE [ENV=VALUE ...]  -> prints JSON
"""
import http.server
import json
import os
import subprocess
import sys
import threading
import time

bootstrap, event_file = sys.argv[1], sys.argv[2]
extra_env = dict(kv.split("=", 1) for kv in sys.argv[3:])
event = open(event_file, "rb").read()
state = {"answered": None, "body": None, "served": False}
done = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.endswith("/invocation/next") and not state["served"]:
            state["served"] = True
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "cold-start-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:bench")
            self.send_header("Content-Length", str(len(event)))
            self.end_headers()
            self.wfile.write(event)
        else:
            # Second poll: keep the runtime waiting until we stop it.
            done.wait(10)
            self.send_response(500)
            self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        state["answered"] = time.perf_counter()
        state["body"] = body.decode("utf-8", "replace")
        self.send_response(202)
        self.end_headers()
        done.set()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
           AWS_LAMBDA_FUNCTION_NAME="bench", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
           AWS_LAMBDA_FUNCTION_VERSION="1", EDX_HOOKS_METRICS="off", RUST_LOG="error", **extra_env)
start = time.perf_counter()
proc = subprocess.Popen([bootstrap], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
done.wait(30)
rss_kib = None
try:
    for line in open(f"/proc/{proc.pid}/status"):
        if line.startswith("VmHWM:"):
            rss_kib = int(line.split()[1])
except OSError:
    pass
proc.kill()
proc.wait()
server.shutdown()
if state["answered"] is None:
    sys.exit("the function never answered")
print(json.dumps({"cold_start_ms": (state["answered"] - start) * 1000, "peak_rss_kib": rss_kib,
                  "response": json.loads(state["body"])}))
