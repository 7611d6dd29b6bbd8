#!/usr/bin/env python3
"""moto's server, made faithful where the service's measurements depend on it.

    emulator.py HOST PORT

- One request at a time. `moto_server` serves requests on many threads and
  its DynamoDB has no lock: two concurrent TransactWriteItems can interleave
  their condition checks and writes, which DynamoDB never does. Serving one
  request at a time gives each call the atomicity DynamoDB guarantees, while
  the functions' multi-call operations (read, then write) still race.
- Consumed capacity by DynamoDB's rules. moto reports a constant; here
  GetItem, Query and TransactWriteItems report what DynamoDB would charge for
  the items they really touch: reads in 4 KB units of the summed size of the
  items read (halved when eventually consistent), writes in 1 KB units of the
  larger of each item's sizes before and after, doubled in transactions.
  Sizes follow DynamoDB's item size rules (binary counted raw, not base64).
"""

from __future__ import annotations

import base64
import io
import json
import math
import signal
import sys
import zlib
from typing import Any, Callable

READ_UNIT = 4096
WRITE_UNIT = 1024
TARGET_PREFIX = "DynamoDB_20120810."


# --- DynamoDB's item size rules ------------------------------------------------


def value_size(value: dict[str, Any]) -> int:
    (kind, content), = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(base64.b64decode(content))
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

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else None
        if operation not in ("GetItem", "Query", "TransactWriteItems"):
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = json.loads(body or b"{}")
        before = self.transaction_sizes(environ, request) if operation == "TransactWriteItems" else None
        status, headers, payload = self.call(environ, target, body)
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
        return json.loads(payload)

    def full_item(self, environ: dict[str, Any], table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return self.api(environ, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}).get("Item")

    def transaction_sizes(self, environ: dict[str, Any], request: dict[str, Any]) -> list[tuple[str, dict, int]]:
        sizes = []
        for entry in request.get("TransactItems", []):
            (kind, action), = entry.items()
            key = action.get("Key") or self.key_of(environ, action["TableName"], action["Item"])
            sizes.append((kind, action, item_size(self.full_item(environ, action["TableName"], key))))
        return sizes

    def key_of(self, environ: dict[str, Any], table: str, item: dict[str, Any]) -> dict[str, Any]:
        schema = self.api(environ, "DescribeTable", {"TableName": table})["Table"]["KeySchema"]
        return {element["AttributeName"]: item[element["AttributeName"]] for element in schema}

    def capacity(self, environ, operation, request, response, before) -> Any:
        table = request.get("TableName", "")
        consistent = bool(request.get("ConsistentRead"))
        if operation == "GetItem":
            units = read_units(item_size(self.full_item(environ, table, request["Key"])), consistent)
            return {"TableName": table, "CapacityUnits": units, "ReadCapacityUnits": units}
        if operation == "Query":
            units = read_units(sum(map(item_size, self.evaluated_items(environ, request, response))), consistent)
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
            per_table[name] = per_table.get(name, 0.0) + 2 * write_units(size_before, size_after)
        return [{"TableName": name, "CapacityUnits": units, "WriteCapacityUnits": units} for name, units in per_table.items()]

    def evaluated_items(self, environ, request: dict[str, Any], response: dict[str, Any]) -> list[dict[str, Any]]:
        """The items a query read: the first ScannedCount items from its start."""
        replay = {
            key: request[key]
            for key in ("TableName", "KeyConditionExpression", "ExpressionAttributeNames",
                        "ExpressionAttributeValues", "ExclusiveStartKey", "ScanIndexForward", "IndexName")
            if key in request
        }
        # Names and values the projection used would now be unused: drop them.
        condition = replay.get("KeyConditionExpression", "")
        for field in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            if field in replay:
                replay[field] = {k: v for k, v in replay[field].items() if k in condition}
        wanted = response.get("ScannedCount", response.get("Count", 0))
        items: list[dict[str, Any]] = []
        while len(items) < wanted:
            replay["Limit"] = wanted - len(items)
            page = self.api(environ, "Query", replay)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            replay["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items[:wanted]


def application() -> Callable:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return FaithfulCapacity(DomainDispatcherApplication(create_backend_app))


def main() -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import run_simple

    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(host, port, application(), threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
