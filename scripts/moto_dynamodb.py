"""moto's DynamoDB server, made faithful enough to test races against.

Stock moto 5 (a) runs requests concurrently over shared dicts, so concurrent transactions can
fail with HTTP 500 or roll back writes that other requests already acknowledged, and (b) deep-
copies every table a transaction touches, so transactions slow down as tables grow. Real
DynamoDB does neither. This launcher fixes both without changing what moto evaluates:

* requests are handled one at a time (each request is atomic, as DynamoDB's items are; the
  service's own reads, decisions and commits still interleave freely between requests);
* a transaction checks every condition first and writes only if all hold, snapshotting just the
  items it touches in case a write fails part-way;
* a transaction honours its ClientRequestToken as DynamoDB does: a repeat with the same token and
  parameters within 10 minutes of a success succeeds again without writing anything, and one with
  other parameters fails with IdempotentParameterMismatchException. The AWS SDKs fill the token
  in, so their own retries of a transaction whose answer was lost are harmless, as in production
  (moto alone would apply the retry again, or fail it on conditions the first attempt changed);
* the listen backlog holds a thousand simultaneous connects (werkzeug's 128 makes the kernel
  drop SYNs, which clients see as connect timeouts).

Usage: python scripts/moto_dynamodb.py -H 127.0.0.1 -p PORT
"""

import argparse
import copy
import json
import signal
import sys
import threading
import time

from werkzeug.serving import BaseWSGIServer, run_simple

from moto.dynamodb.comparisons import get_filter_expression as condition_of
from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    ConditionalCheckFailed,
    DynamodbException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def _key_of(backend, op_type, op):
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def transact_write_items(self, transact_items):
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    steps, seen, reasons = [], set(), []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        key = _key_of(self, op_type, op)
        identity = (op["TableName"], str(sorted(key.items())))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        current = self.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        holds = condition is None or condition_of(
            condition,
            op.get("ExpressionAttributeNames"),
            op.get("ExpressionAttributeValues"),
        ).expr(current)
        if holds:
            reasons.append((None, None, None))
        else:
            old = None
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                old = current.to_json()["Attributes"]
            reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
        steps.append((op_type, op, key, copy.deepcopy(current)))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)

    applied = []
    try:
        for op_type, op, key, before in steps:
            common = dict(
                condition_expression=op.get("ConditionExpression"),
                expression_attribute_names=op.get("ExpressionAttributeNames"),
                expression_attribute_values=op.get("ExpressionAttributeValues"),
            )
            if op_type == "Put":
                self.put_item(op["TableName"], op["Item"], **common)
            elif op_type == "Delete":
                self.delete_item(op["TableName"], key, **common)
            elif op_type == "Update":
                self.update_item(
                    op["TableName"], key, update_expression=op["UpdateExpression"], **common
                )
            applied.append((op["TableName"], key, before))
    except ConditionalCheckFailed:  # cannot happen under the lock; undo to be safe
        _undo(self, applied)
        raise TransactionCanceledException([("ConditionalCheckFailed", "changed", None)])
    except Exception:
        _undo(self, applied)
        raise


def _undo(backend, applied):
    for table_name, key, before in reversed(applied):
        if before is None:
            backend.delete_item(table_name, key)
        else:
            backend.put_item(table_name, before.to_json()["Attributes"])


# ClientRequestToken -> (the request's other parameters, when it succeeded); see the docstring.
TOKEN_WINDOW_SECONDS = 600
_succeeded_tokens = {}


class IdempotentParameterMismatch(DynamodbException):
    def __init__(self):
        super().__init__(
            ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
            "Request parameters do not match the original request with this ClientRequestToken",
        )


def _with_client_request_token(handle):
    def transact_write_items_once(self):
        token = self.body.get("ClientRequestToken")
        if token is None:
            return handle(self)
        parameters = json.dumps(
            {k: v for k, v in self.body.items() if k != "ClientRequestToken"},
            sort_keys=True,
            default=repr,
        )
        now = time.monotonic()
        for old in [t for t, (_, at) in _succeeded_tokens.items() if now - at > TOKEN_WINDOW_SECONDS]:
            del _succeeded_tokens[old]
        if token in _succeeded_tokens:
            if _succeeded_tokens[token][0] != parameters:
                raise IdempotentParameterMismatch()
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        result = handle(self)  # raises when cancelled: only successes are remembered
        _succeeded_tokens[token] = (parameters, now)
        return result

    return transact_write_items_once


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()

    DynamoDBBackend.transact_write_items = transact_write_items
    DynamoHandler.transact_write_items = _with_client_request_token(
        DynamoHandler.transact_write_items
    )
    BaseWSGIServer.request_queue_size = 4096
    app = DomainDispatcherApplication(create_backend_app)
    one_at_a_time = threading.Lock()

    def serialized(environ, start_response):
        with one_at_a_time:
            return list(app(environ, start_response))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    run_simple(
        args.host,
        args.port,
        serialized,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
