"""Warm throughput of the local server (in memory, demo catalog) beside a bare hyper server, in
one run: `GET /concerts`, a date's seats and `GET /queue/status`, each as a multiple of the bare
server's requests per second.

Both servers and the load generator (tools/src/bin/http-load.rs) run on this machine and share
its cores; the endpoints are measured round by round, interleaved with the bare server, and each
one's median is reported. The local server runs as `cargo run --bin local-server` does (its
request log included), writing its output to a file.

Usage: python3 scripts/throughput.py [--rounds R] [--seconds S] [--connections N] [--bin DIR]
Build first: cargo build --release -p tools
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAN = "throughput-fan"
CONCERT = "aurora-nights"


def start(binary, log):
    """Starts a server on a free port; returns the process and its base URL."""
    env = dict(os.environ, PORT="0")
    process = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        with open(log.name) as lines:
            for line in lines:
                if line.startswith("listening on "):
                    return process, line.split()[-1].strip()
        if process.poll() is not None:
            raise SystemExit(f"{binary} exited: see {log.name}")
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{binary} did not start listening")


def call(base, method, path, token=None):
    request = urllib.request.Request(base + path, method=method, headers={"X-User-Id": FAN})
    if token:
        request.add_header("X-Queue-Token", token)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def admitted_token(base):
    """Joins the demo concert's queue and waits for the local server's tick to admit the fan."""
    token = call(base, "POST", f"/concerts/{CONCERT}/queue/tokens")["token"]
    deadline = time.time() + 30
    while time.time() < deadline:
        if call(base, "GET", "/queue/status", token)["status"] == "ACTIVE":
            return token
        time.sleep(0.5)
    raise SystemExit("the fan was not admitted within 30 s")


def load(bin_dir, url, headers, args):
    command = [os.path.join(bin_dir, "http-load"), "--connections", str(args.connections),
               "--seconds", str(args.seconds), "--warmup", "1"]
    for header in headers:
        command += ["--header", header]
    result = json.loads(subprocess.run(command + [url], check=True, capture_output=True, text=True).stdout)
    if result["not_ok"]:
        raise SystemExit(f"{url}: {result['not_ok']} answers were not 200")
    return result["per_second"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--bin", default=os.path.join(ROOT, "target", "release"))
    args = parser.parse_args()

    with tempfile.NamedTemporaryFile("w+", suffix="-hello.log") as hello_log, \
            tempfile.NamedTemporaryFile("w+", suffix="-local-server.log") as server_log:
        hello, hello_base = start(os.path.join(args.bin, "http-hello"), hello_log)
        server, base = start(os.path.join(args.bin, "local-server"), server_log)
        try:
            token = admitted_token(base)
            date = call(base, "GET", f"/concerts/{CONCERT}/dates", token)["dates"][0]["date"]
            fan = [f"X-User-Id: {FAN}", f"X-Queue-Token: {token}"]
            targets = [
                ("bare hyper server", hello_base + "/", []),
                ("GET /concerts", base + "/concerts", [f"X-User-Id: {FAN}"]),
                (f"GET /concerts/{CONCERT}/dates/{date}/seats", base + f"/concerts/{CONCERT}/dates/{date}/seats", fan),
                ("GET /queue/status", base + "/queue/status", fan),
            ]
            rates = {name: [] for name, _, _ in targets}
            for _ in range(args.rounds):
                for name, url, headers in targets:
                    rates[name].append(load(args.bin, url, headers, args))
        finally:
            for process in (server, hello):
                process.terminate()
                process.wait()

    baseline = statistics.median(rates["bare hyper server"])
    print(f"{args.rounds} rounds of {args.seconds:g} s, {args.connections} connections, {os.cpu_count()} CPUs")
    print(f"{'endpoint':60} {'req/s':>8} {'x hello':>8}")
    for name, _, _ in targets:
        median = statistics.median(rates[name])
        print(f"{name:60} {median:>8.0f} {median / baseline:>8.2f}")


if __name__ == "__main__":
    main()
