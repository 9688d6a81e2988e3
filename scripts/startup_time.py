"""Startup time of Lambda function binaries: spawn to the first request to the Runtime API,
each beside a bare `lambda_http` function built by the same workspace and profile.

A stand-in for the Lambda Runtime API listens on 127.0.0.1; each run spawns the binary with the
Lambda environment pointing at it and records when the binary first asks for an invocation
(`GET /2018-06-01/runtime/invocation/next`), i.e. after its cold-start work (configuration,
AWS SDK client) is done, and how much CPU its threads had used by then. The binary is then
killed. Nothing leaves the machine.

The baseline (`lambda-hello`, from tools/src/bin, by default the one beside the first binary) is
measured in the same run, interleaved with the functions round by round, so that both see the
same machine; each function's median is printed as a multiple of the baseline's.

Usage: python3 scripts/startup_time.py [--runs N] [--baseline BINARY] [--max-ratio R] BINARY...
  e.g. python3 scripts/startup_time.py target/release/{hold-seat,list-seats,pay,admit-queue}
With --max-ratio, exits 1 when a function's median exceeds R times the baseline's.
"""

import argparse
import glob
import http.server
import os
import statistics
import subprocess
import sys
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


def cpu_ms(pid):
    """CPU time of all the process's threads so far (schedstat: nanoseconds on a CPU)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as schedstat:
                total += int(schedstat.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e6


def measure(binary, env):
    event, holder = threading.Event(), {}
    RuntimeApi.arrived = (event, holder)
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not event.wait(10):
            raise SystemExit(f"{binary} never called the Runtime API")
        return (holder["at"] - started) * 1000, cpu_ms(process.pid), rss_kib(process.pid)
    finally:
        process.kill()
        process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline", help="the bare lambda_http function (default: lambda-hello beside the first binary)")
    parser.add_argument("--max-ratio", type=float, help="fail when a median exceeds this multiple of the baseline's")
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    baseline = args.baseline or os.path.join(os.path.dirname(args.binaries[0]), "lambda-hello")
    if not os.path.exists(baseline):
        raise SystemExit(f"no baseline at {baseline}: cargo build --release -p tools --bin lambda-hello")

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
    binaries = [baseline] + [b for b in args.binaries if os.path.abspath(b) != os.path.abspath(baseline)]
    results = {binary: [] for binary in binaries}
    for _ in range(args.runs):
        for binary in binaries:
            results[binary].append(measure(binary, env))
    server.shutdown()

    base_median = statistics.median(t for t, _, _ in results[baseline])
    print(
        f"{'binary':28} {'runs':>4} {'median ms':>10} {'min ms':>8} {'max ms':>8}"
        f" {'CPU ms':>7} {'RSS KiB':>8} {'x baseline':>10}"
    )
    over = []
    for binary in binaries:
        times = [t for t, _, _ in results[binary]]
        cpu = statistics.median(c for _, c, _ in results[binary])
        rss = [r for _, _, r in results[binary] if r]
        median = statistics.median(times)
        ratio = median / base_median
        name = os.path.basename(binary) + (" (baseline)" if binary == baseline else "")
        print(
            f"{name:28} {len(times):>4} {median:>10.2f} {min(times):>8.2f} {max(times):>8.2f}"
            f" {cpu:>7.2f} {int(statistics.median(rss)) if rss else '-':>8} {ratio:>10.2f}"
        )
        if args.max_ratio and binary != baseline and ratio > args.max_ratio:
            over.append(os.path.basename(binary))
    if over:
        print(f"over {args.max_ratio}x the baseline: {', '.join(over)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
