"""The functions' metric records, checked against an independent count.

Every invocation of a function writes one CloudWatch Embedded Metric Format
record to its stdout: a JSON line holding `"_aws"`, with its `Operation` and
the `Status` it answered (for a direct invocation that failed, the status
its error type stands for). `cargo lambda watch` collects them in
.local/watch.log.

The gateway shim (gateway.py) logs, independently, every request it sends
on to a function (through the router, or by direct invocation: the resolve
route, bodies the router would mangle) with the function's operation and
the status that came back (.local/gateway-<port>.log). For every operation and status class the
two counts must be equal: a function that answered without its record, a
record without a request, or a record of another outcome than the one the
caller got, all show up as a difference. Requests the shim answers itself
(404, 405, 413, and the IAM check's 403) reach no function and are
expected in neither.

Also, as before, what the records say a request cost: a served get is one
consistent read, a create one data key and one transaction.

And what each request needed of its function's role on the secrets table.
A record names its `FunctionName` (locally the cargo binary, `get-secret`,
which template.yaml's `BuildProperties.Binary` maps to its logical id) and
its `LeadingKeys`: by DynamoDB table, by IAM action, the partition key
prefixes its calls named (`TENANT#`, as IAM's dynamodb:LeadingKeys sees
them; crates/secrets-aws/src/dynamo/leading_keys.rs). Each prefix named on
the local secrets table must be granted to that function for that action
by deploy/function-permissions.json's `leading_keys` (the prefix with `*`),
which the template check holds the role's statements to: nothing local
enforces IAM, so a prefix missing there would otherwise show only in AWS,
as an AccessDenied. Other tables (the audit table) are not checked.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

OPERATIONS = (
    "listAllSecrets",
    "createSecret",
    "getSecret",
    "updateSecret",
    "deleteSecret",
    "resolveSecret",
    "listSecretVersions",
    "restoreSecretVersion",
    "listDeletedSecrets",
    "recoverDeletedSecret",
)
# An invocation's function error carries the contract's error type instead
# of a status (the Rust `Error::error_type`, beside `Error::http_status`):
# the class of the statuses that type stands for.
ERROR_TYPE_CLASSES = {
    "BAD_REQUEST": "4xx",  # 400, 413
    "UNCATEGORIZED": "4xx",  # 401
    "FORBIDDEN": "4xx",  # 403
    "NOT_FOUND": "4xx",  # 404
    "CONFLICT": "4xx",  # 409, 412
    "ILLEGAL_ARGUMENT_ERROR": "4xx",  # 422
    "INTEGRATION_RATE_LIMITED": "4xx",  # 429
    "INTEGRATION_UNAVAILABLE": "5xx",  # 503
    "UNHANDLED_EXCEPTION": "5xx",  # 500
}

Outcome = tuple[str, str]  # (operation, status class)


@dataclass
class Parsed:
    entries: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def status_class(status: int | None) -> str:
    return "no answer" if status is None else f"{status // 100}xx"


# cargo lambda watch writes cargo's progress ("     Running `target/...`",
# in two writes) to the log the functions' output goes to, so a write of
# it may land at the start of one of their lines; seen in a CI run as
# '     Running{"Calls":...}'.
INTERLEAVED_PREFIX = re.compile(r"[^{]{1,100}")


def read_records(lines: Iterable[str]) -> Parsed:
    """The EMF records among a function log's lines."""
    parsed = Parsed()
    for number, line in enumerate(lines, 1):
        start = line.find('{"')
        if start > 0 and INTERLEAVED_PREFIX.fullmatch(line[:start]):
            line = line[start:]
        if not (line.startswith("{") and '"_aws"' in line):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            parsed.problems.append(f"watch log line {number}: not a JSON EMF record: {line[:200]!r}")
            continue
        if not isinstance(record.get("Operation"), str) or not isinstance(record.get("Status"), int):
            parsed.problems.append(f"watch log line {number}: an EMF record without Operation and Status")
            continue
        parsed.entries.append(record)
    return parsed


def read_requests(lines: Iterable[str]) -> Parsed:
    """The gateway shim's log entries."""
    parsed = Parsed()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            parsed.problems.append(f"gateway log line {number}: not JSON: {line[:200]!r}")
            continue
        parsed.entries.append(entry)
    return parsed


def recorded(records: Iterable[dict[str, Any]]) -> Counter[Outcome]:
    return Counter((record["Operation"], status_class(record["Status"])) for record in records)


def request_outcome(entry: dict[str, Any]) -> Outcome:
    operation = entry.get("operation") or f"(function {entry.get('function')!r}, no known operation)"
    error_type = entry.get("errorType")
    if error_type:
        return operation, ERROR_TYPE_CLASSES.get(error_type, f"function error {error_type}")
    return operation, status_class(entry.get("status"))


def observed(requests: Iterable[dict[str, Any]]) -> Counter[Outcome]:
    """Requests that reached a function, by operation and outcome."""
    return Counter(
        request_outcome(entry) for entry in requests if entry.get("delivered") and entry.get("function") is not None
    )


# Operations of functions invoked by another function or by an event source,
# never through the gateway: their records have no request in the gateway's
# log (a reseal is asked by the update function for a restore; a publish by
# the audit stream's event source mapping, change_stream.py).
INVOKED_BY_FUNCTIONS = ("resealValue", "publishChanges")


def count_mismatches(records: list[dict[str, Any]], requests: list[dict[str, Any]]) -> list[str]:
    """Every (operation, status class) whose two counts differ, and every
    operation nothing reached."""
    records = [record for record in records if record["Operation"] not in INVOKED_BY_FUNCTIONS]
    written, seen = recorded(records), observed(requests)
    problems = []
    for operation, outcome in sorted(set(written) | set(seen)):
        key = (operation, outcome)
        if written[key] != seen[key]:
            problems.append(
                f"{operation} {outcome}: {written[key]} EMF record(s), {seen[key]} request(s) reached the function"
            )
    reached = {operation for operation, _ in written} | {operation for operation, _ in seen}
    problems.extend(
        f"{operation}: no EMF record and no request at all" for operation in OPERATIONS if operation not in reached
    )
    return problems


def first_attempts(record: dict[str, Any]) -> int:
    """DynamoDB calls but the retries of transactions after conflicts."""
    return int(record["DynamoDBCalls"]) - int(record.get("TransactionConflicts", 0))


def cost_problems(records: list[dict[str, Any]]) -> list[str]:
    """What the records say the operations cost, with the emulator's
    DynamoDB-rule capacity in them."""
    by_operation: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_operation.setdefault(record["Operation"], []).append(record)
    problems = []
    served = [r for r in by_operation.get("getSecret", []) if r["Status"] == 200]
    if not served or not all(
        r["DynamoDBCalls"] == 1 and r["KMSCalls"] == 0 and r["ReadCapacityUnits"] >= 1 for r in served
    ):
        problems.append("a served get is one consistent read")
    # TAG, META and one Query of the VERSION items (ten of them ~1.5 KB):
    # never a value item, whose size would show in the read units.
    versions = [r for r in by_operation.get("listSecretVersions", []) if r["Status"] == 200]
    if not all(r["DynamoDBCalls"] <= 3 and r["KMSCalls"] == 0 and r["ReadCapacityUnits"] <= 3 for r in versions):
        problems.append("a served versions list reads metadata only: at most 3 small reads")
    created = [r for r in by_operation.get("createSecret", []) if r["Status"] == 200]
    # Without an Idempotency-Key a create is one call to each service. With
    # one it also asks KMS for a fingerprint and reads the key's record; a
    # replay then writes only its audit record, and a create that lost a
    # race for its key (transaction cancelled) reads the record again. A
    # transaction cancelled by a conflict with another in flight is retried
    # (the emulator holds items as DynamoDB does): those retries aside.
    plain = [r for r in created if first_attempts(r) == 1]
    if not plain or not all(r["KMSCalls"] == 1 and r["WriteCapacityUnits"] >= 8 for r in plain):
        problems.append("a create is one data key and a four-item transaction")
    if not all(first_attempts(r) <= 4 and r["KMSCalls"] <= 2 and r["WriteCapacityUnits"] >= 1 for r in created):
        problems.append("an idempotent create: at most a MAC, two reads and a write more")
    # The races (tests/e2e/races.rs) must have met the emulator's transaction
    # isolation: a run in which no transaction was ever cancelled for a
    # conflict and retried proved nothing about concurrency.
    if not any(int(r.get("TransactionConflicts", 0)) > 0 for r in records):
        problems.append("no transaction met a conflict: the emulator did not isolate transactions")
    return problems


@dataclass(frozen=True)
class Grants:
    """What the functions' roles allow on the secrets table, by partition."""

    # The secrets table's name where the records were made (devstack.TABLE).
    table: str
    # A record's FunctionName (the cargo binary) to its logical id.
    functions: dict[str, str]
    # deploy/function-permissions.json's `leading_keys`: by logical id, by
    # IAM action, the dynamodb:LeadingKeys patterns (`TENANT#*`).
    leading_keys: dict[str, dict[str, list[str]]]


def load_grants(table: str) -> Grants:
    """The grants of template.yaml's functions, as the manifest lists them."""
    from tools.checks.template import load_manifest, load_sam

    functions = {
        binary: name
        for name, resource in load_sam()["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
        and isinstance(binary := resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary"), str)
    }
    return Grants(table, functions, load_manifest().get("leading_keys", {}))


# Where `leading_keys` is (tools.checks.template.MANIFEST), for messages.
MANIFEST_NAME = "deploy/function-permissions.json"


def named_partitions(record: dict[str, Any]) -> dict[str, dict[str, list[str]]] | None:
    """A record's LeadingKeys, if it has that shape."""
    named = record.get("LeadingKeys")
    if not isinstance(named, dict):
        return None
    for by_action in named.values():
        if not isinstance(by_action, dict):
            return None
        for prefixes in by_action.values():
            if not isinstance(prefixes, list) or not all(isinstance(prefix, str) for prefix in prefixes):
                return None
    return named


def leading_key_problems(records: list[dict[str, Any]], grants: Grants) -> list[str]:
    """Every (action, partition key prefix) a record names on the secrets
    table that the manifest's `leading_keys` does not grant its function,
    with the number of records that named it."""
    found: Counter[str] = Counter()
    naming_the_table = 0
    for record in records:
        function, named = record.get("FunctionName"), named_partitions(record)
        if not isinstance(function, str) or named is None:
            found["EMF record(s) without a FunctionName or a well-formed LeadingKeys (the partitions named)"] += 1
            continue
        logical = grants.functions.get(function)
        granted = grants.leading_keys.get(logical) if logical else None
        who = f"{function} ({logical or 'no function of template.yaml'}), {record['Operation']}"
        on_table = named.get(grants.table, {})
        naming_the_table += bool(on_table)
        for action, prefixes in sorted(on_table.items()):
            for prefix in sorted(prefixes):
                pattern = f"{prefix}*"
                if granted is None:
                    found[
                        f"{who}: {action} of {pattern} on {grants.table}, but {MANIFEST_NAME} has no "
                        "leading_keys for it"
                    ] += 1
                elif action not in granted:
                    found[
                        f"{who}: {action} of {pattern} on {grants.table}, an action leading_keys in "
                        f"{MANIFEST_NAME} does not grant it on that table at all"
                    ] += 1
                elif pattern not in granted[action]:
                    found[
                        f"{who}: {action} of {pattern} on {grants.table}, which leading_keys in {MANIFEST_NAME} "
                        f"does not grant it (it grants {action} of {sorted(granted[action])})"
                    ] += 1
    problems = [f"{problem}: {count} record(s)" for problem, count in sorted(found.items())]
    if records and not naming_the_table:
        # Every run of the suites reads and writes the table: none named
        # means the partitions went unrecorded, and nothing was checked.
        problems.append(f"none of {len(records)} EMF record(s) named a partition of {grants.table}")
    return problems


def check(watch_log: Iterable[str], gateway_log: Iterable[str], grants: Grants) -> tuple[list[str], int, int]:
    """(every problem, EMF records read, requests that reached a function)."""
    records, requests = read_records(watch_log), read_requests(gateway_log)
    problems = [
        *records.problems,
        *requests.problems,
        *count_mismatches(records.entries, requests.entries),
        *cost_problems(records.entries),
        *leading_key_problems(records.entries, grants),
    ]
    return problems, len(records.entries), sum(observed(requests.entries).values())
