"""moto's server, made faithful where the service's correctness and
measurements depend on it.

    python -m tools.local_stack.emulator HOST PORT [--transaction-hold-ms MS]

- DynamoDB's transaction isolation (contention.py): requests served
  concurrently, each call atomic; a TransactWriteItems holds its items for
  MS milliseconds (default 15, or EMULATOR_TRANSACTION_HOLD_MS) before it
  commits, and a transaction or single write touching a held item is
  refused as DynamoDB refuses it (TransactionConflict).
- Consumed capacity by DynamoDB's rules. moto reports a constant; here
  GetItem, Query and TransactWriteItems report what DynamoDB would charge for
  the items they really touch: reads in 4 KB units of the summed size of the
  items read (halved when eventually consistent), writes in 1 KB units of the
  larger of each item's sizes before and after, doubled in transactions.
  Sizes follow DynamoDB's item size rules (binary counted raw, not base64).
- DynamoDB Streams as DynamoDB writes them: a stream never shows a write
  that did not commit (moto applies a TransactWriteItems item by item, and
  its rollback writes too: a cancelled transaction's records are taken
  back), one record per item a committed write changed (moto writes two
  for an UpdateItem that creates its item, where DynamoDB writes one
  INSERT with no old image, and one for a write that changes nothing,
  where DynamoDB writes none), and shard iterators expire after 15
  minutes, as DynamoDB's do (moto keeps every iterator it ever handed out:
  a poller asking five times a second grew the emulator by 30 MB an hour).
- moto made fast enough for 100,000 secrets (`make bench`), its answers
  unchanged (each has a test in test_emulator.py): queries read only their
  partition (and of it, with begins_with, only the keys with the prefix)
  and start after ExclusiveStartKey instead of walking to it,
  string keys compare without moto's casts, transactions roll back from
  snapshots of the items they name instead of deep copies of the table, and
  count-only queries skip the copy of their results.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import operator
import os
import signal
import sys
import time
import zlib
from collections.abc import Callable
from copy import copy as shallow_copy
from copy import deepcopy as deep_copy
from typing import Any

from tools.local_stack.contention import DEFAULT_HOLD_MS, TransactionIsolation

READ_UNIT = 4096
WRITE_UNIT = 1024
TARGET_PREFIX = "DynamoDB_20120810."


# --- DynamoDB's item size rules ------------------------------------------------


def value_size(value: dict[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        # Base64 on the wire; moto's own items hold the bytes.
        return len(content) if isinstance(content, bytes) else len(base64.b64decode(content))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: element}) for element in content)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in content.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def read_units(total_bytes: int, consistent: bool) -> float:
    units = max(1, math.ceil(total_bytes / READ_UNIT))
    return float(units) if consistent else units / 2


def write_units(before: int, after: int) -> float:
    return float(max(1, math.ceil(max(before, after) / WRITE_UNIT)))


# --- the middleware ------------------------------------------------------------


class FaithfulCapacity:
    """Rewrites ConsumedCapacity in DynamoDB responses, asking the wrapped
    app itself (through DynamoDB's API) for the items a request touched."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.key_schemas: dict[str, list[dict[str, str]]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else None
        if operation not in ("GetItem", "Query", "PutItem", "TransactWriteItems"):
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = json.loads(body or b"{}")
        before = self.write_sizes(environ, operation, request)
        LAST_QUERY["count_only"] = operation == "Query" and request.get("Select") == "COUNT"
        try:
            status, headers, payload = self.call(environ, target, body)
        finally:
            LAST_QUERY["count_only"] = False
        if status.startswith("200") and request.get("ReturnConsumedCapacity", "NONE") != "NONE":
            response = json.loads(payload)
            response["ConsumedCapacity"] = self.capacity(environ, operation, request, response, before)
            payload = json.dumps(response).encode()
            headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "x-amz-crc32")]
            headers += [("Content-Length", str(len(payload))), ("x-amz-crc32", str(zlib.crc32(payload)))]
        start_response(status, headers)
        return [payload]

    def call(self, environ: dict[str, Any], target: str, body: bytes) -> tuple[str, list, bytes]:
        inner = dict(environ)
        inner.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), "HTTP_X_AMZ_TARGET": target})
        captured: dict[str, Any] = {}

        def start(status: str, headers: list, exc_info: Any = None) -> None:
            captured.update(status=status, headers=headers)

        chunks = self.app(inner, start)
        payload = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        return captured["status"], captured["headers"], payload

    def api(self, environ: dict[str, Any], operation: str, request: dict[str, Any]) -> dict[str, Any]:
        status, _, payload = self.call(environ, TARGET_PREFIX + operation, json.dumps(request).encode())
        if not status.startswith("200"):
            raise RuntimeError(f"{operation} failed: {payload[:300]!r}")
        answer: dict[str, Any] = json.loads(payload)
        return answer

    def full_item(self, environ: dict[str, Any], table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        # Straight from moto's backend: through its HTTP layer, these reads
        # were most of a transaction's time (and so of the emulator's).
        backend = backend_of(table)
        if backend is None:
            return self.api(environ, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}).get("Item")
        item = backend.get_item(table, key)
        return None if item is None else dict(item.to_json()["Attributes"])

    def write_sizes(
        self, environ: dict[str, Any], operation: str, request: dict[str, Any]
    ) -> list[tuple[str, dict, int]]:
        """Each write's kind, request and the size of the item it replaces."""
        if operation == "PutItem":
            entries = [{"Put": request}]
        elif operation == "TransactWriteItems":
            entries = request.get("TransactItems", [])
        else:
            return []
        sizes = []
        try:
            for entry in entries:
                ((kind, action),) = entry.items()
                key = action.get("Key") or self.key_of(environ, action["TableName"], action["Item"])
                sizes.append((kind, action, item_size(self.full_item(environ, action["TableName"], key))))
        except (AttributeError, KeyError, TypeError, ValueError):
            return []  # malformed: moto answers it with its error
        return sizes

    def key_of(self, environ: dict[str, Any], table: str, item: dict[str, Any]) -> dict[str, Any]:
        # DescribeTable counts every item in moto: asked once per table.
        if table not in self.key_schemas:
            self.key_schemas[table] = self.api(environ, "DescribeTable", {"TableName": table})["Table"]["KeySchema"]
        schema = self.key_schemas[table]
        return {element["AttributeName"]: item[element["AttributeName"]] for element in schema}

    def capacity(
        self,
        environ: dict[str, Any],
        operation: str,
        request: dict[str, Any],
        response: dict[str, Any],
        before: list[tuple[str, dict[str, Any], int]],
    ) -> dict[str, Any] | list[dict[str, Any]]:
        table = request.get("TableName", "")
        consistent = bool(request.get("ConsistentRead"))
        if operation == "GetItem":
            units = read_units(item_size(self.full_item(environ, table, request["Key"])), consistent)
            return {"TableName": table, "CapacityUnits": units, "ReadCapacityUnits": units}
        if operation == "Query":
            units = read_units(LAST_QUERY["bytes"], consistent)
            return {"TableName": table, "CapacityUnits": units, "ReadCapacityUnits": units}
        per_table: dict[str, float] = {}
        for kind, action, size_before in before:
            name = action["TableName"]
            if kind == "Put":
                size_after = item_size(action["Item"])
            elif kind == "Update":
                size_after = item_size(self.full_item(environ, name, action["Key"]))
            else:
                size_after = 0
            per_table[name] = per_table.get(name, 0.0) + write_units(size_before, size_after)
        if operation == "PutItem":
            ((name, units),) = per_table.items()
            return {"TableName": name, "CapacityUnits": units, "WriteCapacityUnits": units}
        # A transaction pays twice: prepare and commit.
        return [
            {"TableName": name, "CapacityUnits": 2 * units, "WriteCapacityUnits": 2 * units}
            for name, units in per_table.items()
        ]


def backend_of(table: str) -> Any:
    """moto's DynamoDB backend holding `table` (any account or region: the
    emulator serves one of each), or None if there is none."""
    from moto.dynamodb.models import dynamodb_backends

    known = BACKENDS.get(table)
    if known is not None and table in known.tables:
        return known
    for account in list(dynamodb_backends.keys()):
        for backend in list(dynamodb_backends[account].values()):
            if table in backend.tables:
                BACKENDS[table] = backend
                return backend
    return None


BACKENDS: dict[str, Any] = {}


# The summed size of the items the last query read (before projection), and
# whether it only counts them: each call runs under contention.py's lock, so
# "last" is the current request's.
LAST_QUERY: dict[str, Any] = {"bytes": 0, "count_only": False}


def patch_moto() -> None:
    """The changes inside moto's DynamoDB (module docstring), and the size
    of what each query read, for its capacity."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "patched_by_emulator", False):
        return
    table_query, backend_query = Table.query, DynamoDBBackend.query

    def partition_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if hash_key is None or index_name or not self.range_key_attr:
            return table_query(self, hash_key, *args, **kwargs)
        partition = list(self.items.get(hash_key, {}).values())
        comparison = kwargs.get("range_comparison", args[0] if args else None)
        bounds = kwargs.get("range_objs", args[1] if len(args) > 1 else None)
        if comparison == "BEGINS_WITH" and bounds and bounds[0].type == "S":
            # moto evaluates a key condition on every item of the partition;
            # a tenant's 16 count shards beside 100,000 tags took as long to
            # find as a page of tags. Only candidates are handed on (moto
            # still applies the condition to them).
            prefix = bounds[0].value
            partition = [item for item in partition if str(item.range_key.value).startswith(prefix)]
        start = kwargs.get("exclusive_start_key", args[3] if len(args) > 3 else None)
        forward = kwargs.get("scan_index_forward", args[4] if len(args) > 4 else True)
        if start and forward is not False and self.range_key_attr in start:
            # moto finds where a page starts by walking every item before it,
            # which makes a walk through a large partition quadratic: start
            # the partition after the key instead.
            after = DynamoType(start[self.range_key_attr])
            partition = [item for item in partition if item.range_key > after]
            if "exclusive_start_key" in kwargs:
                kwargs["exclusive_start_key"] = None
            else:
                args = (*args[:3], None, *args[4:])
        # Shadows the method for this call (deleted below): a deliberate patch.
        self.all_items = lambda: partition  # type: ignore[method-assign]
        try:
            return table_query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    def measured_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Ask for whole items, measure them, then project as moto would.
        arguments = list(args)
        if len(arguments) > 7:
            projection, arguments[7] = arguments[7], None
        else:
            projection = kwargs.pop("projection_expressions", None)
            kwargs["projection_expressions"] = None
        items, scanned, last_key = backend_query(self, *arguments, **kwargs)
        LAST_QUERY["bytes"] = sum(item_size(item.to_json()["Attributes"]) for item in items)
        if projection:
            items = [item.project(projection) for item in items]
        return items, scanned, last_key

    # Sorting a partition compares its keys; moto casts both sides on every
    # comparison, a third of a deep query's time. Strings compare as they are.
    def fast_comparison(name: str) -> Callable:
        original = getattr(DynamoType, name)
        compare = getattr(operator, name)

        def compared(self: DynamoType, other: Any) -> bool:
            result: bool
            if isinstance(other, DynamoType) and self.type == other.type == "S":
                result = compare(self.value, other.value)
            else:
                result = original(self, other)
            return result

        return compared

    for name in ("__lt__", "__gt__", "__eq__"):
        setattr(DynamoType, name, fast_comparison(name))

    partition_query.patched_by_emulator = True  # type: ignore[attr-defined]
    # Deliberate patches of moto's methods (mypy forbids assigning to methods).
    Table.query = partition_query  # type: ignore[method-assign]
    DynamoDBBackend.query = measured_query  # type: ignore[method-assign]
    patch_transaction_rollback(DynamoDBBackend)
    skip_needless_copies()
    patch_streams()
    patch_sqs_deletes()


def patch_sqs_deletes() -> None:
    """SQS calls are served as they come, beside EventBridge's (contention.py),
    so an EventBridge delivery may add a message while a delete rebuilds the
    queue's message list: moto rebuilds it without the lock its adds take,
    and the message added meanwhile would be lost. Deletes take that lock."""
    from moto.sqs.models import Queue

    delete_message = Queue.delete_message
    if getattr(delete_message, "patched_by_emulator", False):
        return

    def locked_delete(self: Any, receipt_handle: str) -> None:
        with self._messages_lock:
            delete_message(self, receipt_handle)

    locked_delete.patched_by_emulator = True  # type: ignore[attr-defined]
    Queue.delete_message = locked_delete  # type: ignore[method-assign]


def skip_needless_copies() -> None:
    """moto deep-copies whole tables to back up a transaction (replaced by
    patch_transaction_rollback's item snapshots), and every query's results, half the time of a
    deep page's skip. The tables, and the results of a `Select=COUNT` query,
    which are only counted, come back as they are; a copy nobody changes is
    the original. (Serializing does change items: never skip that copy.)"""
    import moto.dynamodb.models as models
    import moto.dynamodb.models.table as table_module
    from moto.dynamodb.models.dynamo_type import Item

    class CopiesOnlyWhatCanChange:
        copy = staticmethod(shallow_copy)

        @staticmethod
        def deepcopy(value: Any, *args: Any) -> Any:
            if isinstance(value, models.Table):
                return value
            if LAST_QUERY["count_only"] and isinstance(value, list) and all(isinstance(i, Item) for i in value):
                return list(value)  # counted, never serialized (which changes binary values)
            return deep_copy(value, *args)

    # Both modules call copy.copy and copy.deepcopy through their `copy`
    # import: a class with those two functions stands in for the module.
    models.copy = CopiesOnlyWhatCanChange  # type: ignore[assignment]
    table_module.copy = CopiesOnlyWhatCanChange  # type: ignore[assignment]


def patch_transaction_rollback(backend_class: Any) -> None:
    """moto backs up a transaction by deep-copying every table it touches,
    once per action: with the bench's 100,000 secrets that is seconds and
    gigabytes per create. The same all-or-nothing outcome, cheaper: snapshot
    only the items the transaction names, and put them back if it fails
    (skip_needless_copies then drops moto's copies of the tables)."""
    transact_write_items = backend_class.transact_write_items

    def named_keys(self: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        keys = []
        for entry in transact_items:
            for operation in entry.values():
                table = self.tables.get(operation.get("TableName"))
                if table is None:
                    continue
                if "Key" in operation:
                    keys.append((table.name, operation["Key"]))
                elif "Item" in operation:
                    attributes = [table.hash_key_attr, table.range_key_attr]
                    keys.append((table.name, {a: operation["Item"][a] for a in attributes if a in operation["Item"]}))
        return keys

    def snapshot_rollback(self: Any, transact_items: list[dict[str, Any]]) -> None:
        before = []
        for table_name, key in named_keys(self, transact_items):
            try:
                item = self.get_item(table_name, key)
            except Exception:  # a malformed key: moto answers it below
                continue
            before.append((table_name, key, deep_copy(item)))
        streams = stream_lengths(self, transact_items)
        try:
            transact_write_items(self, transact_items)
        except Exception:
            for table_name, key, item in reversed(before):
                if item is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, item.to_json()["Attributes"])
            # moto wrote the items that passed before one failed, and the
            # rollback above wrote them back: records of writes that never
            # committed, on every table of the transaction. DynamoDB's stream
            # shows none of them. Each call runs alone (contention.py), so
            # nobody read them in between, and the sequence numbers they
            # took are free again.
            for table_name, length in streams.items():
                shard = self.tables[table_name].stream_shard if table_name in self.tables else None
                if shard is not None:
                    del shard.items[length:]
            raise

    backend_class.transact_write_items = snapshot_rollback


def stream_lengths(backend: Any, transact_items: Any) -> dict[str, int]:
    """How many records the stream of each table a transaction names holds
    (tables without a stream left out)."""
    lengths = {}
    for entry in transact_items if isinstance(transact_items, list) else []:
        for operation in entry.values() if isinstance(entry, dict) else []:
            name = operation.get("TableName") if isinstance(operation, dict) else None
            table = backend.tables.get(name) if isinstance(name, str) else None
            if table is not None and table.stream_shard is not None:
                lengths[table.name] = len(table.stream_shard.items)
    return lengths


# DynamoDB Streams' shard iterators expire 15 minutes after they are handed out.
ITERATOR_LIFETIME_S = 15 * 60


def patch_streams() -> None:
    """The stream records moto writes, made DynamoDB's (module docstring)."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    if getattr(StreamShard.add, "patched_by_emulator", False):
        return
    add, update_item = StreamShard.add, DynamoDBBackend.update_item
    iterator_init, get_records = ShardIterator.__init__, DynamoDBStreamsBackend.get_records

    def add_if_changed(self: StreamShard, old: Any, new: Any) -> None:
        # "A PutItem or UpdateItem that does not change any data in an item"
        # writes no record (DynamoDB developer guide, change data capture).
        if old is not None and new is not None and old == new:
            return
        add(self, old, new)

    def update_with_one_record(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        # moto creates a missing item with a put of its key (a record, an
        # INSERT), then updates it (another): DynamoDB writes one INSERT of
        # the result, with no old image. The last record stays, under the
        # first one's sequence number, so that sequence numbers stay the
        # positions moto reads records by; it is made that INSERT whatever
        # moto named it (moto 5.2.5 names it INSERT, but a moto comparing
        # with the key it had just put would name it MODIFY, with the key
        # as its old image). An update of an existing item stays a MODIFY.
        table = self.tables.get(table_name)
        shard = table.stream_shard if table is not None else None
        length = len(shard.items) if shard is not None else 0
        item = update_item(self, table_name, *args, **kwargs)
        if shard is not None and len(shard.items) > length + 1:
            first, last = shard.items[length], shard.items[-1]
            if first.record["eventName"] == "INSERT":
                last.record["eventName"] = "INSERT"
                last.record["dynamodb"].pop("OldImage", None)
            last.record["dynamodb"]["SequenceNumber"] = str(shard.starting_sequence_number + length)
            shard.items[length:] = [last]
        return item

    class ExpiredIterator(JsonRESTError):
        def __init__(self) -> None:
            super().__init__(
                "ExpiredIteratorException", "Iterator expired. The iterator was created over 15 minutes ago."
            )

    def stamped_iterator(self: ShardIterator, *args: Any, **kwargs: Any) -> None:
        iterator_init(self, *args, **kwargs)
        self.handed_out = time.monotonic()  # type: ignore[attr-defined]

    def records_of_live_iterator(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> Any:
        now = time.monotonic()
        if now - getattr(self, "last_expiry", 0.0) > 60:
            self.last_expiry = now  # type: ignore[attr-defined]
            for arn, iterator in list(self.shard_iterators.items()):
                if now - getattr(iterator, "handed_out", now) > ITERATOR_LIFETIME_S:
                    del self.shard_iterators[arn]
        asked = self.shard_iterators.get(iterator_arn)
        if asked is None or now - getattr(asked, "handed_out", now) > ITERATOR_LIFETIME_S:
            raise ExpiredIterator()
        return get_records(self, iterator_arn, limit)

    add_if_changed.patched_by_emulator = True  # type: ignore[attr-defined]
    # Deliberate patches of moto's methods (mypy forbids assigning to methods).
    StreamShard.add = add_if_changed  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_with_one_record  # type: ignore[method-assign]
    ShardIterator.__init__ = stamped_iterator  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_records = records_of_live_iterator  # type: ignore[method-assign]


def application(transaction_hold_ms: float = DEFAULT_HOLD_MS) -> TransactionIsolation:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    patch_moto()
    faithful = FaithfulCapacity(DomainDispatcherApplication(create_backend_app))
    return TransactionIsolation(faithful, transaction_hold_ms / 1000)


def main() -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument(
        "--transaction-hold-ms",
        type=float,
        default=float(os.environ.get("EMULATOR_TRANSACTION_HOLD_MS", DEFAULT_HOLD_MS)),
        help="how long a transaction holds its items (default %(default)s)",
    )
    args = parser.parse_args()
    if args.transaction_hold_ms < 0:
        parser.error("--transaction-hold-ms must not be negative")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = application(args.transaction_hold_ms)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
