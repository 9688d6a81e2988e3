"""Startup time of Lambda function binaries: spawn to the first request to the Runtime API.

A stand-in for the Lambda Runtime API listens on 127.0.0.1; each run spawns the binary with the
Lambda environment pointing at it and records when the binary first asks for an invocation
(`GET /2018-06-01/runtime/invocation/next`), i.e. after its cold-start work (configuration,
AWS SDK client) is done. The binary is then killed. Nothing leaves the machine.

Usage: python3 scripts/startup_time.py [--runs N] BINARY...
  e.g. python3 scripts/startup_time.py target/x86_64-unknown-linux-gnu/release/hold-seat
"""

import argparse
import http.server
import os
import socket
import statistics
import subprocess
import threading
import time


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    arrived = None  # set per run: (event, holder)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path.startswith("/2018-06-01/runtime/invocation/next"):
            event, holder = RuntimeApi.arrived
            if not event.is_set():
                holder["at"] = time.perf_counter()
                event.set()
            time.sleep(5)  # keep the function waiting until it is killed
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measure(binary, port, env):
    event, holder = threading.Event(), {}
    RuntimeApi.arrived = (event, holder)
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not event.wait(10):
            raise SystemExit(f"{binary} never called the Runtime API")
        return (holder["at"] - started) * 1000, rss_kib(process.pid)
    finally:
        process.kill()
        process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "startup-probe",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/startup-probe",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "TABLE_NAME": "ticketing",
    }
    print(f"{'binary':28} {'runs':>4} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'RSS KiB':>8}")
    for binary in args.binaries:
        results = [measure(binary, port, env) for _ in range(args.runs)]
        times = [t for t, _ in results]
        rss = [r for _, r in results if r]
        print(
            f"{os.path.basename(binary):28} {len(times):>4} {statistics.median(times):>10.1f}"
            f" {min(times):>8.1f} {max(times):>8.1f} {int(statistics.median(rss)) if rss else '-':>8}"
        )
    server.shutdown()


if __name__ == "__main__":
    main()
