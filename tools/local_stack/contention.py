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

`TransactionIsolation` does the same: a transaction first claims its
items, holds them for `hold_seconds`, then lets them go and commits; every
call runs alone, in arrival order (a first-in, first-out lock), so that
each is atomic. Calls to SQS and EventBridge (the change events) are
served outside those turns: DynamoDB's isolation is none of theirs, and an
SQS receive long-polls, which in turn would hold up every DynamoDB call for
as long as it waits. SQS calls are served as they come; EventBridge calls
one at a time, under a lock of their own: moto's EventBridge has none, and
a PutEvents walks its bus's rules while it delivers, so a PutRule served
meanwhile changed them underneath it (a 500, which the SDK retries, and
the event was delivered twice). Where it differs from DynamoDB:

- The emulator is slow (milliseconds a call) and serves one call at a time,
  so under load a call waits its turn. That wait is the emulator's, not
  DynamoDB's: a transaction's hold does not include it, or one busy tenant
  would make every other transaction conflict. A transaction takes its turn
  before it lets its items go, and turns are first come, first served, so
  transactions on one item still commit in the order they held it, and
  nothing else reaches the item in between.
- The hold is one fixed time (DynamoDB's varies with load and item count),
  conditions are evaluated at the end of the hold (the same outcome: nothing
  else can change a held item meanwhile), ClientRequestToken is not
  honoured (moto ignores it), partition throughput is not limited, and
  BatchWriteItem and TransactGetItems (which the service does not use) are
  not checked against held items.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

TARGET_PREFIX = "DynamoDB_20120810."
ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
SINGLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
# X-Amz-Target prefixes of the calls served outside the turns: SQS (its
# JSON protocol) and EventBridge, which is served one call at a time.
EVENTS_PREFIX = "AWSEvents."
OUTSIDE_TURNS = ("AmazonSQS.", EVENTS_PREFIX)

# What a transaction takes on DynamoDB when nothing else is going on (tens of
# milliseconds measured from Lambda, of which the item holding is most): the
# default, never 0, so that every local run shows contention.
DEFAULT_HOLD_MS = 15

Answer = tuple[str, list[tuple[str, str]], bytes]


class Turns:
    """A lock taken in arrival order: a ticket, then a wait for its turn."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.next_ticket = 0
        self.serving = 0

    def ticket(self) -> int:
        with self.changed:
            ticket = self.next_ticket
            self.next_ticket += 1
            return ticket

    def wait(self, ticket: int) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.serving == ticket)

    def done(self) -> None:
        with self.changed:
            self.serving += 1
            self.changed.notify_all()


class TransactionIsolation:
    def __init__(self, app: Callable, hold_seconds: float) -> None:
        self.app = app
        self.hold_seconds = hold_seconds
        self.turns = Turns()
        # Guards `held` alone: claims are quick and never wait for a turn.
        self.claims = threading.Lock()
        self.held: set[str] = set()
        self.key_schemas: dict[str, list[str]] = {}
        # Held for the whole of each EventBridge call, its answer read.
        self.events = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(EVENTS_PREFIX):
            with self.events:
                status, headers, payload = self.call(environ)
            start_response(status, headers)
            return [payload]
        if target.startswith(OUTSIDE_TURNS):
            served: Iterable[bytes] = self.app(environ, start_response)
            return served
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else None
        if operation == "TransactWriteItems" or operation in SINGLE_WRITES:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            status, headers, payload = self.write(environ, operation, body)
        else:
            status, headers, payload = self.in_turn(self.turns.ticket(), environ)
        start_response(status, headers)
        return [payload]

    def in_turn(self, ticket: int, environ: dict[str, Any], body: bytes | None = None) -> Answer:
        self.turns.wait(ticket)
        try:
            return self.call(environ, body)
        finally:
            self.turns.done()

    def write(self, environ: dict[str, Any], operation: str, body: bytes) -> Answer:
        request = json.loads(body or b"{}")
        if operation in SINGLE_WRITES:
            key = self.held_key(environ, request)
            with self.claims:
                if key is not None and key in self.held:
                    return conflict()
                ticket = self.turns.ticket()
            return self.in_turn(ticket, environ, body)
        entries = request.get("TransactItems")
        keys = [
            self.held_key(environ, action)
            for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, dict)
            for action in entry.values()
        ]
        with self.claims:
            if any(key in self.held for key in keys if key is not None):
                return cancelled([key is not None and key in self.held for key in keys])
            claimed = {key for key in keys if key is not None}
            self.held |= claimed
        try:
            time.sleep(self.hold_seconds)
            ticket = self.turns.ticket()
        finally:
            with self.claims:
                self.held -= claimed
        return self.in_turn(ticket, environ, body)

    def held_key(self, environ: dict[str, Any], action: Any) -> str | None:
        """The identity of the item a write names (None if malformed: the
        emulator answers that itself)."""
        if not isinstance(action, dict):
            return None
        table = action.get("TableName")
        if not isinstance(table, str):
            return None
        key = action.get("Key")
        if key is None:
            attributes = self.key_attributes(environ, table)
            item = action.get("Item")
            if attributes is None or not isinstance(item, dict) or not all(a in item for a in attributes):
                return None
            key = {attribute: item[attribute] for attribute in attributes}
        return json.dumps([table, key], sort_keys=True)

    def key_attributes(self, environ: dict[str, Any], table: str) -> list[str] | None:
        if table not in self.key_schemas:
            body = json.dumps({"TableName": table}).encode()
            inner = {**environ, "HTTP_X_AMZ_TARGET": TARGET_PREFIX + "DescribeTable"}
            status, _, payload = self.in_turn(self.turns.ticket(), inner, body)
            if not status.startswith("200"):
                return None
            schema = json.loads(payload)["Table"]["KeySchema"]
            self.key_schemas[table] = [element["AttributeName"] for element in schema]
        return self.key_schemas[table]

    def call(self, environ: dict[str, Any], body: bytes | None = None) -> Answer:
        """The wrapped app's whole answer, read during this call's turn."""
        inner = dict(environ)
        if body is not None:
            inner.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
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
