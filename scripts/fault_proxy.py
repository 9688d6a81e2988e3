"""A fault-injecting HTTP proxy in front of a DynamoDB endpoint (DynamoDB Local), for chaos tests.

It forwards every request (method, path, headers, body) to the upstream and relays the answer.
At a configurable rate it injects one of four faults instead, picked by configurable weights:

* throttle: answers at once, without forwarding, HTTP 400 `ProvisionedThroughputExceededException`
  (the AWS SDKs classify it as a retryable throttling error);
* server_error: answers at once, without forwarding, HTTP 500 `InternalServerError`;
* lost_response: forwards (so a write happens), then closes the client's connection unanswered;
* late_answer: forwards, then answers after a delay drawn from `delayMs` ([min, max]).

Apart from those, it produces transaction conflicts as DynamoDB does, once `conflictWindowMs` is
above 0. DynamoDB Local answers in a millisecond and serializes its transactions, so it never
cancels one for `TransactionConflict`; here each `TransactWriteItems` stays in flight that long
(held before it is forwarded) and, while it is, the items it writes (every Put, Update, Delete and
ConditionCheck, by table, `pk` and `sk`) are its own:

* a `TransactWriteItems` that writes one of them is answered at once, without forwarding, HTTP 400
  `TransactionCanceledException` with one cancellation reason per item, in order:
  `TransactionConflict` where the item is in flight, `None` elsewhere;
* a `PutItem`, `UpdateItem` or `DeleteItem` of one of them is answered HTTP 400
  `TransactionConflictException` (the SDKs do not retry it: the caller decides);
* a repeat of an in-flight transaction (same `ClientRequestToken`, an SDK retry) is answered
  `TransactionInProgressException`, as DynamoDB does (the SDKs retry that one), and a repeat of
  one already forwarded is forwarded (DynamoDB Local answers it idempotently), never cancelled.

Reads never conflict: DynamoDB's plain reads see the last committed state and the service sends
no `TransactGetItems`. A conflict is checked before any fault is drawn, so a cancelled request
is counted as a conflict only.

The rate and the conflict window are 0 at start (plain pass-through). The control API shares the
port, under a path no DynamoDB request uses (DynamoDB's are all `POST /`):

  GET /__faults           the configuration: {"rate", "weights", "delayMs", "conflictWindowMs"}
  PUT /__faults           change any of them, e.g. {"rate": 0.3}; answers the new configuration
  GET /__faults/stats     {"forwarded", "answered", "upstreamErrors", "faults": {...},
                           "conflicts", "conflictsByKey": {"<pk>|<sk>": n, ...}, "inProgress",
                           "inFlight" (transactions held right now: a test's cue),
                           "byOperation": {"GetItem": {"forwarded", "conflict", <fault>...}, ...}}
  DELETE /__faults/stats  zero the counts

The configuration is process-wide: tests that change it must not run concurrently. Nothing is
printed per request unless asked (--log-faults: one line per injected fault or conflict, with the
items it touched, to match a test's findings with the faults behind them; -v: every request).
Each request is forwarded once, on a fresh upstream connection, so the proxy itself never repeats
a write.

Usage: python scripts/fault_proxy.py -H 127.0.0.1 -p PORT --upstream http://127.0.0.1:MOTOPORT
"""

import argparse
import http.client
import http.server
import json
import random
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid

FAULTS = ("throttle", "server_error", "lost_response", "late_answer")
CONTROL = "/__faults"
STATS = "/__faults/stats"
# Connection-level headers: they describe one hop, never the request.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
}
DYNAMODB_ERROR = "com.amazonaws.dynamodb.v20120810#"
AMZ_JSON = "application/x-amz-json-1.0"
# The writes a transaction in flight refuses (a transaction's own are checked item by item).
SINGLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
TRANSACTION = "TransactWriteItems"
ONGOING = "Transaction is ongoing for the item"
# DynamoDB honours a transaction's ClientRequestToken this long.
TOKEN_SECONDS = 600
# A window longer than this would outlast the SDK's own timeouts: a test's mistake.
MAX_CONFLICT_WINDOW_MS = 10_000


class Faults:
    """The configuration and the counts, shared by every connection's thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rate = 0.0
        self.weights = {fault: 1.0 for fault in FAULTS}
        self.delay_ms = [1500, 3000]
        self.conflict_window_ms = 0
        # Items written by the transactions in flight ("<table> <pk>|<sk>": how many), and their
        # ClientRequestTokens; the tokens forwarded, with when (a repeat is DynamoDB's to answer).
        self.in_flight = {}
        self.transactions_in_flight = 0
        self.tokens_in_flight = set()
        self.tokens_forwarded = {}
        self.reset_stats()

    def reset_stats(self):
        self.forwarded = 0
        self.answered = 0
        self.upstream_errors = 0
        self.counts = {fault: 0 for fault in FAULTS}
        self.by_operation = {}
        self.conflicts = 0
        self.in_progress = 0
        self.conflicts_by_key = {}

    def config(self):
        with self.lock:
            return {
                "rate": self.rate,
                "weights": dict(self.weights),
                "delayMs": list(self.delay_ms),
                "conflictWindowMs": self.conflict_window_ms,
            }

    def update(self, change):
        """Applies a PUT body; raises ValueError (and changes nothing) on any bad value."""
        if not isinstance(change, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(change) - {"rate", "weights", "delayMs", "conflictWindowMs"}
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        with self.lock:
            rate, weights, delay = self.rate, dict(self.weights), list(self.delay_ms)
            window = self.conflict_window_ms
            if "conflictWindowMs" in change:
                window = change["conflictWindowMs"]
                if not _number(window) or not 0 <= window <= MAX_CONFLICT_WINDOW_MS:
                    raise ValueError(
                        f"conflictWindowMs must be a number from 0 to {MAX_CONFLICT_WINDOW_MS}"
                    )
            if "rate" in change:
                rate = change["rate"]
                if not _number(rate) or not 0 <= rate <= 1:
                    raise ValueError("rate must be a number from 0 to 1")
            if "weights" in change:
                given = change["weights"]
                if not isinstance(given, dict) or set(given) - set(FAULTS):
                    raise ValueError(f"weights must be an object with keys among {FAULTS}")
                if not all(_number(w) and w >= 0 for w in given.values()):
                    raise ValueError("weights must be numbers >= 0")
                weights.update(given)
                if sum(weights.values()) <= 0:
                    raise ValueError("at least one weight must be positive")
            if "delayMs" in change:
                given = change["delayMs"]
                if _number(given):
                    given = [given, given]
                if (
                    not isinstance(given, list)
                    or len(given) != 2
                    or not all(_number(d) and d >= 0 for d in given)
                    or given[0] > given[1]
                ):
                    raise ValueError("delayMs must be a number or [min, max] in milliseconds")
                delay = list(given)
            self.rate, self.weights, self.delay_ms = float(rate), weights, delay
            self.conflict_window_ms = window

    def _per_op(self, operation):
        return self.by_operation.setdefault(
            operation, dict({"forwarded": 0, "conflict": 0}, **{f: 0 for f in FAULTS})
        )

    def admit(self, operation, request):
        """Decides a write against the transactions in flight, while the conflict window is open.

        Returns (refusal, held): refusal is None, ("cancel", [in flight?] per item),
        ("conflict", key) or ("in_progress", token); held is what `release` frees once the
        request is done with, None when it holds nothing. A transaction that holds its items
        returns held and must then wait `window()` before it is forwarded.
        """
        with self.lock:
            if self.conflict_window_ms <= 0 or operation not in SINGLE_WRITES + (TRANSACTION,):
                return None, None
            if operation != TRANSACTION:
                key = _single_key(request)
                if key not in self.in_flight:
                    return None, None
                self._count_conflict(operation, [key])
                return ("conflict", key), None
            token = request.get("ClientRequestToken")
            now = time.monotonic()
            for old in [t for t, at in self.tokens_forwarded.items() if now - at > TOKEN_SECONDS]:
                del self.tokens_forwarded[old]
            if token and token in self.tokens_in_flight:
                self.in_progress += 1
                return ("in_progress", token), None
            if token and token in self.tokens_forwarded:
                return None, None
            keys = _transaction_keys(request)
            busy = [key in self.in_flight for key in keys]
            if any(busy):
                self._count_conflict(operation, [k for k, b in zip(keys, busy) if b])
                return ("cancel", busy), None
            for key in keys:
                self.in_flight[key] = self.in_flight.get(key, 0) + 1
            self.transactions_in_flight += 1
            if token:
                self.tokens_in_flight.add(token)
            return None, (keys, token)

    def window(self):
        with self.lock:
            return self.conflict_window_ms / 1000

    def release(self, held, forwarded):
        """Frees a transaction's items; remembers its token when it reached DynamoDB."""
        keys, token = held
        with self.lock:
            self.transactions_in_flight -= 1
            for key in keys:
                left = self.in_flight.get(key, 0) - 1
                if left > 0:
                    self.in_flight[key] = left
                else:
                    self.in_flight.pop(key, None)
            if token:
                self.tokens_in_flight.discard(token)
                if forwarded:
                    self.tokens_forwarded[token] = time.monotonic()

    def _count_conflict(self, operation, keys):
        self.conflicts += 1
        self._per_op(operation)["conflict"] += 1
        for key in keys:
            shown = key.split(" ", 1)[1]  # the table's name is the test's, the key the design's
            self.conflicts_by_key[shown] = self.conflicts_by_key.get(shown, 0) + 1

    def draw(self, operation):
        """The fault for the next request, or None; counts it."""
        with self.lock:
            fault = None
            if self.rate > 0 and random.random() < self.rate:
                names = [f for f in FAULTS if self.weights[f] > 0]
                fault = random.choices(names, [self.weights[f] for f in names])[0]
                self.counts[fault] += 1
            per_op = self._per_op(operation)
            if fault is not None:
                per_op[fault] += 1
            if fault not in ("throttle", "server_error"):
                self.forwarded += 1
                per_op["forwarded"] += 1
            delay = random.uniform(*self.delay_ms) / 1000 if fault == "late_answer" else 0
            return fault, delay

    def count(self, field):
        with self.lock:
            setattr(self, field, getattr(self, field) + 1)

    def stats(self):
        with self.lock:
            return {
                "forwarded": self.forwarded,
                "answered": self.answered,
                "upstreamErrors": self.upstream_errors,
                "faults": dict(self.counts),
                "conflicts": self.conflicts,
                "inProgress": self.in_progress,
                "inFlight": self.transactions_in_flight,
                "conflictsByKey": dict(
                    sorted(self.conflicts_by_key.items(), key=lambda kv: (-kv[1], kv[0]))
                ),
                "byOperation": {op: dict(c) for op, c in sorted(self.by_operation.items())},
            }


def _items(body):
    """The keys a DynamoDB request touches, e.g. `USER#fan-01|IDEMPOTENCY#k`, for fault logs."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return "?"

    def key(item):
        return "|".join(str(next(iter(item[k].values()))) for k in ("pk", "sk") if k in item)

    found = []
    for write in request.get("TransactItems", []):
        for op, spec in write.items():
            found.append(f"{op}:{key(spec.get('Key') or spec.get('Item') or {})}")
    for k in ("Key", "Item"):
        if k in request:
            found.append(key(request[k]))
    if "ExpressionAttributeValues" in request and not found:
        found.append(json.dumps(request["ExpressionAttributeValues"], sort_keys=True)[:120])
    if "ClientRequestToken" in request:
        found.append("token=" + request["ClientRequestToken"][:8])
    return " ".join(found)


def _value(attribute):
    """The value of a DynamoDB attribute, `{"S": "x"}` -> "x"."""
    return str(next(iter(attribute.values()))) if isinstance(attribute, dict) and attribute else ""


def _item_key(table, item):
    """An item's identity: `<table> <pk>|<sk>`."""
    return f"{table} {_value(item.get('pk'))}|{_value(item.get('sk'))}"


def _single_key(request):
    return _item_key(request.get("TableName", ""), request.get("Key") or request.get("Item") or {})


def _transaction_keys(request):
    """The item of each of a transaction's writes, in order (Put by its Item, the others by Key)."""
    keys = []
    for write in request.get("TransactItems") or []:
        for spec in write.values():
            spec = spec if isinstance(spec, dict) else {}
            keys.append(_item_key(spec.get("TableName", ""), spec.get("Key") or spec.get("Item") or {}))
    return keys


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's pooled connections expect
    server_version = "fault-proxy"
    sys_version = ""
    faults: Faults
    upstream: urllib.parse.SplitResult
    verbose = False
    log_faults = False

    def do_GET(self):
        self.route()

    def do_PUT(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_DELETE(self):
        self.route()

    def route(self):
        body = self.read_body()
        if body is None:
            return
        path = self.path.split("?", 1)[0]
        if path == CONTROL or path.startswith(CONTROL + "/"):
            self.control(path, body)
        else:
            self.proxy(body)

    def read_body(self):
        """The request body, by Content-Length or chunked; None after answering a bad request."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self.send_error(400, "bad chunk size")
                    return None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            self.send_error(400, "bad Content-Length")
            return None
        return self.rfile.read(length) if length > 0 else b""

    # ------------------------------------------------------------------ control API
    def control(self, path, body):
        if path == CONTROL and self.command == "GET":
            self.reply_json(200, self.faults.config())
        elif path == CONTROL and self.command == "PUT":
            try:
                self.faults.update(json.loads(body or b"null"))
            except ValueError as error:  # json.JSONDecodeError is a ValueError
                self.reply_json(400, {"error": str(error)})
                return
            self.reply_json(200, self.faults.config())
        elif path == STATS and self.command == "GET":
            self.reply_json(200, self.faults.stats())
        elif path == STATS and self.command == "DELETE":
            with self.faults.lock:
                self.faults.reset_stats()
            self.reply_json(200, self.faults.stats())
        else:
            self.reply_json(404, {"error": f"no {self.command} {path}"})

    def reply_json(self, status, document, content_type="application/json", extra=()):
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    # ------------------------------------------------------------------ forwarding
    def proxy(self, body):
        operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2] or self.command
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        refusal, held = self.faults.admit(operation, request if isinstance(request, dict) else {})
        if refusal:
            self.log_fault(refusal[0], operation, body)
            self.refuse(refusal)
            return
        forwarded = False
        try:
            fault, delay = self.faults.draw(operation)
            if fault:
                self.log_fault(fault, operation, body)
            if fault == "throttle":
                self.dynamodb_error(400, "ProvisionedThroughputExceededException",
                                    "The level of configured provisioned throughput for the "
                                    "table was exceeded. Consider increasing your provisioning "
                                    "level.")
                return
            if fault == "server_error":
                self.dynamodb_error(500, "InternalServerError", "Internal server error")
                return
            if held:
                # In flight: its items are its own until DynamoDB has applied it.
                time.sleep(self.faults.window())
            try:
                status, reason, headers, payload = self.forward(body)
                forwarded = True
            except (OSError, http.client.HTTPException) as error:
                self.faults.count("upstream_errors")
                if self.verbose:
                    self.log_message("upstream failed: %r", error)
                self.reply_json(502, {"error": "upstream unreachable"})
                return
        finally:
            if held:
                self.faults.release(held, forwarded)
        if fault == "lost_response":
            # The write happened upstream; the client never learns it.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if delay:
            time.sleep(delay)
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.faults.count("answered")

    def forward(self, body):
        """Sends the request once, on its own connection, and reads the whole answer."""
        up = self.upstream
        connection = http.client.HTTPConnection(up.hostname, up.port or 80, timeout=120)
        try:
            connection.putrequest(self.command, self.path, skip_host=True,
                                  skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    connection.putheader(name, value)
            if body or self.command in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.putheader("Connection", "close")
            connection.endheaders(body or None)
            response = connection.getresponse()
            payload = response.read()
            return response.status, response.reason, response.getheaders(), payload
        finally:
            connection.close()

    def log_fault(self, fault, operation, body):
        if self.log_faults:
            line = f"{time.strftime('%H:%M:%S')} {fault} {operation} {_items(body)}\n"
            with self.faults.lock:  # one whole line at a time
                sys.stderr.write(line)
                sys.stderr.flush()

    def refuse(self, refusal):
        """Answers a write that meets a transaction in flight, as DynamoDB does."""
        kind, detail = refusal
        if kind == "cancel":
            codes = ["TransactionConflict" if busy else "None" for busy in detail]
            reasons = [
                {"Code": code, "Message": ONGOING} if code != "None" else {"Code": code}
                for code in codes
            ]
            message = ("Transaction cancelled, please refer cancellation reasons for specific "
                       f"reasons [{', '.join(codes)}]")
            self.dynamodb_error(400, "TransactionCanceledException", message,
                                {"CancellationReasons": reasons})
        elif kind == "conflict":
            self.dynamodb_error(400, "TransactionConflictException", ONGOING)
        else:
            self.dynamodb_error(400, "TransactionInProgressException",
                                "The transaction with the given request token is already in "
                                "progress.")

    def dynamodb_error(self, status, error_type, message, fields=None):
        # Transaction cancellations spell it "Message", like their other fields.
        document = {"__type": DYNAMODB_ERROR + error_type}
        document["Message" if fields else "message"] = message
        document.update(fields or {})
        self.reply_json(
            status,
            document,
            content_type=AMZ_JSON,
            extra=[("x-amzn-RequestId", uuid.uuid4().hex.upper()),
                   ("x-amzn-ErrorType", error_type)],
        )

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if self.verbose:
            super().log_message(format, *args)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 4096  # a thousand simultaneous connects must not lose SYNs
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that hangs up mid-answer is normal here (timeouts, lost responses).
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:8000")
    parser.add_argument("--log-faults", action="store_true",
                        help="log each injected fault with the items it touched")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args()

    upstream = urllib.parse.urlsplit(args.upstream)
    if upstream.scheme != "http" or not upstream.hostname:
        parser.error("--upstream must be an http:// URL")
    Proxy.faults = Faults()
    Proxy.upstream = upstream
    Proxy.verbose = args.verbose
    Proxy.log_faults = args.log_faults or args.verbose
    server = Server((args.host, args.port), Proxy)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    print(f"fault proxy on http://{args.host}:{server.server_address[1]} -> {args.upstream}",
          flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
