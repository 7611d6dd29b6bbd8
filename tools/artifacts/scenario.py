"""The requests the built functions must answer, as API Gateway's REST API
(payload v1) delivers them: a create, a list that shows it, a get, an
update, the versions list, a resolve of the value by tag and of the first
value by its version, a restore of the first value (the update function
invokes the reseal function through Lambda's Invoke API), a resolve of it
in a batch, a delete, the deleted secrets' list, a recovery, a get of the
recovered secret, a delete again, and a get that finds nothing. Each
answer is checked for its status and the fields that matter. Then each
function a DynamoDB stream feeds (the publish function) gets a batch as
its event source mapping would hand it: one record, the audit record of
the scenario's resolve, which is no change, so it must answer that nothing
failed without calling AWS.

The routes are the template's: each request goes to the function whose Api
event declares its method and path, so a route moved to another function
in template.yaml moves here too; likewise the stream consumers are the
functions with a DynamoDB event.

A failure names the step, the status and the body's size and error type,
never a body: the resolve answer holds the value.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tools.artifacts.signing import Signer
from tools.local_stack.events import rest_api_event
from tools.local_stack.iam import LocalIam, Principal

SECRETS = "/api/v1/secrets"
SECRET = "/api/v1/secrets/{tagOrId}"
VERSIONS = "/api/v1/secrets/{tagOrId}/versions"
RESTORE = "/api/v1/secrets/{tagOrId}/versions/{valueVersion}/restore"
DELETED = "/api/v1/deleted-secrets"
RECOVER = "/api/v1/deleted-secrets/{id}/restore"
RESOLVE = "/internal/v1/tenants/{tenant}/secrets/{tagOrId}"
RESOLVE_MANY = "/internal/v1/tenants/{tenant}/secrets"
SIGNED = (RESOLVE, RESOLVE_MANY)
SUMMARY_FIELDS = {"id", "name", "tag"}

Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]
# crates/secrets-aws/src/dynamo/audit.rs: a tenant's records are spread
# over 16 partitions.
AUDIT_PARTITIONS = 16


def routes(functions: dict[str, dict[str, Any]]) -> dict[tuple[str, str], str]:
    """{(method, path): logical id} of every function's Api events."""
    found = {}
    for logical_id, properties in functions.items():
        for event in (properties.get("Events") or {}).values():
            if event.get("Type") == "Api":
                found[(event["Properties"]["Method"].upper(), event["Properties"]["Path"])] = logical_id
    return found


def stream_consumers(functions: dict[str, dict[str, Any]]) -> set[str]:
    """The logical ids of the functions a DynamoDB stream invokes."""
    return {
        logical_id
        for logical_id, properties in functions.items()
        if any(event.get("Type") == "DynamoDB" for event in (properties.get("Events") or {}).values())
    }


def resolve_audit_item(tenant: str, secret_id: str, tag: str, subject: str) -> dict[str, Any]:
    """An allowed resolve's audit record, in DynamoDB JSON, as the resolve
    function writes it (crates/secrets-aws/src/dynamo/audit.rs)."""
    now_ms = int(time.time() * 1000)
    moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_ms / 1000)) + f".{now_ms % 1000:03d}Z"
    request_id = secrets.token_hex(16)
    return {
        "pk": {"S": f"TENANT#{tenant}#{secrets.randbelow(AUDIT_PARTITIONS):02d}"},
        "sk": {"S": f"{moment}#{request_id}"},
        "time": {"S": moment},
        "timeMs": {"N": str(now_ms)},
        "operation": {"S": "resolveSecret"},
        "requestId": {"S": request_id},
        "tenant": {"S": tenant},
        "subject": {"S": subject},
        "secretId": {"S": secret_id},
        "tag": {"S": tag},
        "valueVersion": {"N": "2"},
        "outcome": {"S": "allowed"},
    }


def stream_event(stream_arn: str, image: dict[str, Any], sequence: str) -> dict[str, Any]:
    """A DynamoDB Streams batch of one INSERT, as Lambda's event source
    mapping hands it to a function (new images only, as the audit table's
    stream has them)."""
    return {
        "Records": [
            {
                "eventID": secrets.token_hex(16),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": stream_arn.split(":")[3],
                "eventSourceARN": stream_arn,
                "dynamodb": {
                    "ApproximateCreationDateTime": int(image["timeMs"]["N"]) // 1000,
                    "Keys": {name: image[name] for name in ("pk", "sk")},
                    "NewImage": image,
                    "SequenceNumber": sequence,
                    "SizeBytes": len(json.dumps(image)),
                    "StreamViewType": "NEW_IMAGE",
                },
            }
        ]
    }


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def describe(self) -> str:
        """Status, size and error type: what a failure may print."""
        error_type = ""
        if self.status >= 400:
            document = self.json()
            if isinstance(document, dict):
                error_type = f", type {document.get('type')}"
        return f"status {self.status}, {len(self.body)} bytes{error_type}"


def answer_of(payload: dict[str, Any]) -> Answer:
    """An API Gateway proxy response, as the function returned it."""
    body = payload.get("body") or ""
    raw = base64.b64decode(body) if payload.get("isBase64Encoded") else body.encode()
    headers = {name.lower(): str(value) for name, value in (payload.get("headers") or {}).items()}
    for name, values in (payload.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), ",".join(map(str, values)))
    return Answer(int(payload["statusCode"]), headers, raw)


def check(condition: bool, step: str, answer: Answer, expected: str) -> None:
    if not condition:
        raise AssertionError(f"{step}: expected {expected}; got {answer.describe()}")


class Scenario:
    def __init__(
        self,
        invoke: Invoke,
        functions: dict[str, dict[str, Any]],
        signer: Signer,
        iam: LocalIam,
        audit_stream_arn: str,
    ) -> None:
        self.invoke = invoke
        self.routes = routes(functions)
        self.stream_consumers = stream_consumers(functions)
        self.audit_stream_arn = audit_stream_arn
        self.signer = signer
        self.iam = iam
        self.tenant = f"artifacts-{secrets.token_hex(4)}"
        self.token = signer.token(self.tenant, ["CREATE_SECRETS"])
        # The caller API Gateway verified for the resolve route (AWS_IAM).
        self.resolver = Principal(
            "AKIAARTIFACTTEST", "", f"arn:aws:sts::{iam.account}:assumed-role/artifact-test/resolver", ()
        )
        self.served: set[str] = set()
        # The functions that answered a stream's batch.
        self.streamed: set[str] = set()

    def request(
        self, method: str, route: str, parameters: dict[str, str], query: str = "", body: bytes = b""
    ) -> Answer:
        path = route.format(**parameters)
        if route in SIGNED:
            headers = {"Accept": "application/json"}
            event = rest_api_event(method, route, path, query, headers, parameters, body, self.iam, self.resolver)
        else:
            headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
            if body:
                headers["Content-Type"] = "application/json"
            event = rest_api_event(method, route, path, query, headers, parameters, body, self.iam, self.resolver)
            # A route without AWS_IAM: API Gateway names no caller.
            identity = event["requestContext"]["identity"]
            for name in ("accessKey", "accountId", "caller", "user", "userArn"):
                identity[name] = None
        function = self.routes.get((method, route))
        if function is None:
            raise AssertionError(f"template.yaml routes no function to {method} {route}")
        self.served.add(function)
        return answer_of(self.invoke(function, event))

    def summary(self, step: str, answer: Answer, expected: dict[str, str]) -> dict[str, Any]:
        """A 200 whose body is the secret's summary alone (no value: the
        public API never returns one), with the `expected` fields."""
        check(answer.status == 200, step, answer, "status 200")
        document = answer.json()
        check(isinstance(document, dict) and set(document) == SUMMARY_FIELDS, step, answer, "{id, name, tag} only")
        mismatched = [name for name, value in expected.items() if document[name] != value]
        check(not mismatched, step, answer, f"the secret's {', '.join(mismatched)}")
        result: dict[str, Any] = document
        return result

    def run(self) -> None:
        tag = f"artifact-{secrets.token_hex(4)}"
        value, new_value = secrets.token_urlsafe(24), secrets.token_urlsafe(24)

        body = json.dumps({"name": "Artifact", "secret": value, "tag": tag}).encode()
        answer = self.request("POST", SECRETS, {}, body=body)
        secret_id = self.summary("create", answer, {"name": "Artifact", "tag": tag})["id"]
        check(isinstance(secret_id, str) and bool(secret_id), "create", answer, "an id")
        expected = {"id": secret_id, "name": "Artifact", "tag": tag}

        listed = self.request("GET", SECRETS, {}, query="page=0&pageSize=250")
        check(listed.status == 200, "list", listed, "status 200")
        page = listed.json()
        check(
            isinstance(page, dict) and page.get("total") == 1 and page.get("secrets") == [expected],
            "list",
            listed,
            "the one secret created, and total 1",
        )

        self.summary("get", self.request("GET", SECRET, {"tagOrId": tag}), expected)

        body = json.dumps({"name": "Renamed", "secret": new_value}).encode()
        updated = self.request("PUT", SECRET, {"tagOrId": tag}, body=body)
        expected = {**expected, "name": "Renamed"}
        self.summary("update", updated, expected)

        resolved = self.request("GET", RESOLVE, {"tenant": self.tenant, "tagOrId": tag})
        check(resolved.status == 200, "resolve", resolved, "status 200")
        document = resolved.json()
        check(
            isinstance(document, dict) and set(document) == {*SUMMARY_FIELDS, "value"},
            "resolve",
            resolved,
            "{id, name, tag, value}",
        )
        check(all(document[name] == v for name, v in expected.items()), "resolve", resolved, "the secret's summary")
        # Compared, never printed.
        check(document["value"] == new_value, "resolve", resolved, "the updated value")
        check(resolved.headers.get("cache-control") == "no-store", "resolve", resolved, "Cache-Control: no-store")

        kept = self.request("GET", VERSIONS, {"tagOrId": secret_id})
        check(kept.status == 200, "versions", kept, "status 200")
        versions = (kept.json() or {}).get("versions", [])
        shown = [(version.get("valueVersion"), version.get("current")) for version in versions]
        check(shown == [(2, True), (1, False)], "versions", kept, "versions 2 (current) and 1, newest first")
        check(value.encode() not in kept.body, "versions", kept, "no value")

        first = self.request("GET", RESOLVE, {"tenant": self.tenant, "tagOrId": tag}, query="valueVersion=1")
        check(first.status == 200, "resolve version 1", first, "status 200")
        # Compared, never printed.
        check((first.json() or {}).get("value") == value, "resolve version 1", first, "the first value")

        restored = self.request("POST", RESTORE, {"tagOrId": tag, "valueVersion": "1"})
        self.summary("restore version 1", restored, expected)

        batch = self.request("GET", RESOLVE_MANY, {"tenant": self.tenant}, query=f"tagOrId={tag}&tagOrId=missing")
        check(batch.status == 200, "batch resolve", batch, "status 200")
        results = (batch.json() or {}).get("results", [])
        statuses = [result.get("status") for result in results]
        check(statuses == [200, 404], "batch resolve", batch, "its entries answered 200 and 404")
        # Compared, never printed: version 3 is the first value again.
        check(results[0]["secret"]["value"] == value, "batch resolve", batch, "the restored first value")

        deleted = self.request("DELETE", SECRET, {"tagOrId": tag})
        check(deleted.status == 200 and not deleted.body, "delete", deleted, "status 200 with an empty body")

        listed = self.request("GET", DELETED, {})
        check(listed.status == 200, "deleted list", listed, "status 200")
        kept = (listed.json() or {}).get("secrets", [])
        check([entry.get("id") for entry in kept] == [secret_id], "deleted list", listed, "the deleted secret")
        recovered = self.request("POST", RECOVER, {"id": secret_id})
        self.summary("recover", recovered, expected)
        self.summary("get after recovery", self.request("GET", SECRET, {"tagOrId": tag}), expected)
        deleted = self.request("DELETE", SECRET, {"tagOrId": tag})
        check(deleted.status == 200, "delete again", deleted, "status 200")

        gone = self.request("GET", SECRET, {"tagOrId": tag})
        check(gone.status == 404, "get after delete", gone, "status 404")
        document = gone.json()
        check(isinstance(document, dict) and document.get("type") == "NOT_FOUND", "get after delete", gone, "NOT_FOUND")

        self.stream_no_change(secret_id, tag)

    def stream_no_change(self, secret_id: str, tag: str) -> None:
        """Each stream consumer gets a batch of one record that is no change
        (the resolve's audit record; the mapping's filter would have
        dropped it, the function must too): it answers that nothing failed,
        and calls nothing (the harness refuses and reports any EventBridge
        call, __main__.py)."""
        image = resolve_audit_item(self.tenant, secret_id, tag, self.resolver.arn)
        event = stream_event(self.audit_stream_arn, image, sequence="100000000000000000001")
        for function in sorted(self.stream_consumers):
            self.streamed.add(function)
            answer = self.invoke(function, event)
            if answer != {"batchItemFailures": []}:
                raise AssertionError(
                    f"{function}: a batch holding no change must be answered "
                    f'{{"batchItemFailures": []}}; got {json.dumps(answer)[:200]}'
                )
