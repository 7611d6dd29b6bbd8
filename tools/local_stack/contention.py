"""DynamoDB's transaction isolation, around an emulator that has none.

moto applies a TransactWriteItems instantly, and has no lock: served
concurrently, two calls could interleave. DynamoDB instead (developer guide,
"Transaction conflict handling"; ../shared/notes/dynamodb-at-scale.md):

- serves requests concurrently, each call atomic;
- holds the items of a transaction while it is prepared, whatever its
  outcome will be, for the time a transaction takes;
- cancels at once a TransactWriteItems naming any held item, with reason
  `TransactionConflict` for each such item and `None` for the others;
- fails a PutItem, UpdateItem or DeleteItem of a held item with
  `TransactionConflictException`;
- lets reads see the last committed state (read-committed).

`TransactionIsolation` does the same: every call runs under one lock (atomic),
and a transaction first claims its items, holds them for `hold_seconds`
without the lock, then commits under the lock and lets them go. Where it
differs from DynamoDB: the hold is one fixed time (DynamoDB's varies with
load and item count), conditions are evaluated at the end of the hold (the
same outcome: nothing else can change a held item meanwhile), and
ClientRequestToken is not honoured (moto ignores it).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

TARGET_PREFIX = "DynamoDB_20120810."
ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
SINGLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem")

# What a transaction takes on DynamoDB when nothing else is going on (tens of
# milliseconds measured from Lambda, of which the item holding is most): the
# default, never 0, so that every local run shows contention.
DEFAULT_HOLD_MS = 15

Answer = tuple[str, list[tuple[str, str]], bytes]


class TransactionIsolation:
    def __init__(self, app: Callable, hold_seconds: float) -> None:
        self.app = app
        self.hold_seconds = hold_seconds
        self.lock = threading.Lock()
        self.held: set[str] = set()
        self.key_schemas: dict[str, list[str]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else None
        if operation == "TransactWriteItems" or operation in SINGLE_WRITES:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            status, headers, payload = self.write(environ, operation, body)
        else:
            with self.lock:
                status, headers, payload = self.call(environ)
        start_response(status, headers)
        return [payload]

    def write(self, environ: dict[str, Any], operation: str, body: bytes) -> Answer:
        request = json.loads(body or b"{}")
        if operation in SINGLE_WRITES:
            with self.lock:
                key = self.held_key(environ, request)
                if key is not None and key in self.held:
                    return conflict()
                return self.call(environ, body)
        with self.lock:
            keys = [
                self.held_key(environ, action)
                for entry in request.get("TransactItems", [])
                for action in entry.values()
            ]
            if any(key in self.held for key in keys if key is not None):
                return cancelled([key is not None and key in self.held for key in keys])
            claimed = {key for key in keys if key is not None}
            self.held |= claimed
        try:
            time.sleep(self.hold_seconds)
            with self.lock:
                return self.call(environ, body)
        finally:
            with self.lock:
                self.held -= claimed

    def held_key(self, environ: dict[str, Any], action: dict[str, Any]) -> str | None:
        """The identity of the item a write names (None if malformed: the
        emulator answers that itself)."""
        table = action.get("TableName")
        if not isinstance(table, str):
            return None
        key = action.get("Key")
        if key is None:
            attributes = self.key_attributes(environ, table)
            item = action.get("Item") or {}
            if attributes is None or not all(attribute in item for attribute in attributes):
                return None
            key = {attribute: item[attribute] for attribute in attributes}
        return json.dumps([table, key], sort_keys=True)

    def key_attributes(self, environ: dict[str, Any], table: str) -> list[str] | None:
        if table not in self.key_schemas:
            body = json.dumps({"TableName": table}).encode()
            status, _, payload = self.call(environ, body, TARGET_PREFIX + "DescribeTable")
            if not status.startswith("200"):
                return None
            schema = json.loads(payload)["Table"]["KeySchema"]
            self.key_schemas[table] = [element["AttributeName"] for element in schema]
        return self.key_schemas[table]

    def call(self, environ: dict[str, Any], body: bytes | None = None, target: str | None = None) -> Answer:
        """The wrapped app's whole answer, read while the lock is held."""
        import io

        inner = dict(environ)
        if body is not None:
            inner.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
        if target is not None:
            inner["HTTP_X_AMZ_TARGET"] = target
        captured: dict[str, Any] = {}

        def start(status: str, headers: list, exc_info: Any = None) -> None:
            captured.update(status=status, headers=headers)

        chunks = self.app(inner, start)
        try:
            payload = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return captured["status"], captured["headers"], payload


def error(kind: str, fields: dict[str, Any]) -> Answer:
    payload = json.dumps({"__type": ERROR_PREFIX + kind, **fields}).encode()
    return (
        "400 Bad Request",
        [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(payload)))],
        payload,
    )


def conflict() -> Answer:
    return error("TransactionConflictException", {"message": "Transaction is ongoing for the item"})


def cancelled(conflicting: list[bool]) -> Answer:
    reasons = [
        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"} if held else {"Code": "None"}
        for held in conflicting
    ]
    codes = ", ".join(reason["Code"] for reason in reasons)
    return error(
        "TransactionCanceledException",
        {
            "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
            "CancellationReasons": reasons,
        },
    )
