"""The change events, checked on the transformed template (part of
`python -m tools.checks.template`; docs/design.md, "Change events from the
table's stream"):

- The audit table has a stream of new images (an allowed change's record
  is written in the change's own transaction, so its INSERT exists exactly
  when the change committed); no other table has a stream.
- The publish function has one event source mapping: on the audit table's
  stream, invoking its `live` alias, from the stream's oldest record
  (TRIM_HORIZON: none written before the first poll is skipped), reporting
  batch item failures, bisecting a failed batch, with bounded retries and
  an on-failure destination, a queue of this stack that is encrypted and
  alarmed while it holds anything; its one filter keeps exactly the
  INSERTs of allowed records of the five change operations, but those of
  requests that changed nothing (flagged `replayed` or `unchanged`): sample
  records are run through it with the local stack's matcher
  (tools/local_stack/event_pattern.py), which must also be able to play it.
- Its role: events:PutEvents on the default bus only, for the source
  `cortex.secrets` only; the stream reads on the audit table's stream only,
  ListStreams alone (it names no resource); sqs:SendMessage on its failure
  queue only; no table action and no KMS action at all.
- Nothing but its mapping invokes it (no resource policy), and an alarm
  watches its iterator age.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tools.checks.rollouts import dimension, metrics_of
from tools.checks.template import (
    AUDIT_TABLE,
    LIST_STREAMS,
    PUBLISHER,
    STREAM_READS,
    aliases_of,
    as_list,
    getatt_parts,
    getatt_target,
    ref_target,
    resources_of,
    statements,
    sub_text,
)
from tools.local_stack import event_pattern

STREAM_VIEW = "NEW_IMAGE"
SOURCE = "cortex.secrets"
DEFAULT_BUS = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
# crates/secrets-domain/src/operation.rs: the operations whose allowed
# records are committed changes. Resolves and refusals share the table.
CHANGE_OPERATIONS = {
    "createSecret",
    "updateSecret",
    "deleteSecret",
    "restoreSecretVersion",
    "recoverDeletedSecret",
}
# crates/secrets-aws/src/dynamo/audit.rs: the BOOL attributes, written
# only when true, of an allowed record that is no change: a create replayed
# from its Idempotency-Key, an update that changed nothing.
NO_CHANGE_FLAGS = ("replayed", "unchanged")
# A flag written false passes, as the function reads it.
LEAVES_OUT = {flag: {"BOOL": [False, {"exists": False}]} for flag in NO_CHANGE_FLAGS}
FILTER = (
    "its one filter must keep exactly the INSERTs of allowed changes' records "
    '({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"outcome": {"S": ["allowed"]}, '
    f'"operation": {{"S": {sorted(CHANGE_OPERATIONS)}}}, '
    f"{json.dumps(LEAVES_OUT)[1:-1]}}}}}}})"
)
NO_CHANGES = (
    "its filter must leave out the INSERTs of allowed records flagged "
    f"{' or '.join(NO_CHANGE_FLAGS)} (BOOL true: no change) and keep the others: "
    f"{json.dumps(LEAVES_OUT)[1:-1]} in its NewImage (exists works on leaf nodes only: the type key, not the name)"
)
PUT_EVENTS = "events:PutEvents"
SEND_MESSAGE = "sqs:SendMessage"
BACKLOG = ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
ITERATOR_AGE = ("AWS/Lambda", "IteratorAge")


def check_change_events(cfn: dict[str, Any]) -> Iterator[str]:
    yield from check_streams(cfn)
    resources = cfn.get("Resources", {})
    if PUBLISHER not in resources:
        yield f"{PUBLISHER}: the change events' publisher is missing"
        return
    targets = {PUBLISHER} | aliases_of(cfn, PUBLISHER)
    mappings = [
        (name, mapping.get("Properties", {}))
        for name, mapping in resources_of(cfn, "AWS::Lambda::EventSourceMapping")
        if ref_target(mapping.get("Properties", {}).get("FunctionName")) in targets
    ]
    if len(mappings) != 1:
        yield f"{PUBLISHER}: needs exactly one event source mapping (the audit table's stream), not {len(mappings)}"
    queues: set[str] = set()
    for name, mapping in mappings:
        yield from check_mapping(cfn, name, mapping)
        destination = mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if getatt_parts(destination) is not None:
            queues.add(str(getatt_target(destination)))
    yield from check_publisher_role(cfn, queues)
    yield from check_invokers(cfn, targets)
    yield from check_alarms(cfn, queues)


def check_streams(cfn: dict[str, Any]) -> Iterator[str]:
    for name, table in resources_of(cfn, "AWS::DynamoDB::Table"):
        stream = table.get("Properties", {}).get("StreamSpecification")
        if name == AUDIT_TABLE:
            if not isinstance(stream, dict) or stream.get("StreamViewType") != STREAM_VIEW:
                yield f"{name}: needs a {STREAM_VIEW} stream (StreamSpecification), the change events' source"
        elif stream is not None:
            yield (
                f"{name}: must have no stream: the change events come from the audit table's, and a stream "
                "here would hand out every item's image (a REMOVE names no request)"
            )


def check_mapping(cfn: dict[str, Any], name: str, mapping: dict[str, Any]) -> Iterator[str]:
    if getatt_parts(mapping.get("EventSourceArn")) != (AUDIT_TABLE, "StreamArn"):
        yield f"{name}: must read the audit table's stream ({AUDIT_TABLE}.StreamArn)"
    if ref_target(mapping.get("FunctionName")) not in aliases_of(cfn, PUBLISHER):
        yield f"{name}: must invoke {PUBLISHER}'s live alias, the version its rollout chose"
    if mapping.get("StartingPosition") != "TRIM_HORIZON":
        yield f"{name}: must start at TRIM_HORIZON: a change committed before its first poll must not be skipped"
    if as_list(mapping.get("FunctionResponseTypes", [])) != ["ReportBatchItemFailures"]:
        yield f"{name}: must report batch item failures (FunctionResponseTypes [ReportBatchItemFailures])"
    if mapping.get("BisectBatchOnFunctionError") is not True:
        yield f"{name}: must bisect a failed batch (BisectBatchOnFunctionError): an unreadable record is parked alone"
    # Retries are bounded by the records' age, not a count: a count runs
    # out in minutes when every attempt fails fast (an outage, a refusal),
    # parking changes an hour's wait would have published.
    age = mapping.get("MaximumRecordAgeInSeconds")
    if not isinstance(age, int) or isinstance(age, bool) or not 3600 <= age <= 43200:
        yield (
            f"{name}: needs retries bounded by record age "
            "(MaximumRecordAgeInSeconds 3600 to 43200: well inside the stream's 24 h)"
        )
    retries = mapping.get("MaximumRetryAttempts", -1)
    if retries != -1:
        yield f"{name}: must retry until the record age bound (MaximumRetryAttempts -1 or unset), not a count"
    destination = mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    queue = getatt_parts(destination)
    resources = cfn.get("Resources", {})
    if queue is None or queue[1] != "Arn" or resources.get(queue[0], {}).get("Type") != "AWS::SQS::Queue":
        yield f"{name}: needs an on-failure destination, an SQS queue of this stack (DestinationConfig.OnFailure)"
    else:
        properties = resources[queue[0]].get("Properties", {})
        if properties.get("SqsManagedSseEnabled") is not True and "KmsMasterKeyId" not in properties:
            yield f"{queue[0]}: must be encrypted (SqsManagedSseEnabled or KmsMasterKeyId)"
    criteria = mapping.get("FilterCriteria", {})
    if not keeps_exactly_changes(criteria):
        yield f"{name}: {FILTER}"
    else:
        yield from check_no_changes_left_out(name, criteria["Filters"][0]["Pattern"])


def keeps_exactly_changes(criteria: Any) -> bool:
    """The criteria are one filter whose pattern is the change filter (its
    operations in any order, each once); what it says of the no-change
    flags, if anything, is for check_no_changes_left_out."""
    filters = criteria.get("Filters") if isinstance(criteria, dict) else None
    if not isinstance(filters, list) or len(filters) != 1 or not isinstance(filters[0], dict):
        return False
    try:
        pattern = json.loads(filters[0].get("Pattern", ""))
    except (TypeError, ValueError):
        return False
    if not isinstance(pattern, dict) or set(pattern) != {"eventName", "dynamodb"}:
        return False
    image = pattern["dynamodb"].get("NewImage") if isinstance(pattern["dynamodb"], dict) else None
    if pattern["eventName"] != ["INSERT"] or set(pattern["dynamodb"]) != {"NewImage"} or not isinstance(image, dict):
        return False
    if not {"outcome", "operation"} <= set(image) <= {"outcome", "operation", *NO_CHANGE_FLAGS}:
        return False
    if image["outcome"] != {"S": ["allowed"]}:
        return False
    operation = image["operation"]
    if not isinstance(operation, dict) or set(operation) != {"S"} or not isinstance(operation["S"], list):
        return False
    names = operation["S"]
    return all(isinstance(n, str) for n in names) and len(names) == len(set(names)) and set(names) == CHANGE_OPERATIONS


def check_no_changes_left_out(name: str, text: str) -> Iterator[str]:
    """The pattern, played by the local stack's matcher (as the local stack
    plays it), on sample records: every change operation's allowed INSERT
    passes, flags written false included, and none flagged as no change
    does."""
    try:
        pattern = event_pattern.parse(text)
    except ValueError as error:
        yield f"{name}: its filter must be one the local stack can play: {error}"
        return
    for operation in sorted(CHANGE_OPERATIONS):
        if not event_pattern.matches(pattern, audit_insert(operation)):
            yield f"{name}: {NO_CHANGES}; it drops a {operation} that changed something"
        for flags in [(flag,) for flag in NO_CHANGE_FLAGS] + [NO_CHANGE_FLAGS]:
            if event_pattern.matches(pattern, audit_insert(operation, *flags)):
                yield f"{name}: {NO_CHANGES}; it passes a {operation} flagged {' and '.join(flags)}"
        for flag in NO_CHANGE_FLAGS:
            if not event_pattern.matches(pattern, audit_insert(operation, flag, written=False)):
                yield f"{name}: {NO_CHANGES}; it drops a {operation} with {flag} written false"


def audit_insert(operation: str, *flags: str, written: bool = True) -> dict[str, Any]:
    """The stream record of an allowed audit item, as the mapping reads it
    (crates/secrets-aws/src/dynamo/audit.rs, `audit_item`)."""
    key = {"pk": {"S": "TENANT#acme#07"}, "sk": {"S": "2026-01-01T00:00:00.000Z#req-1"}}
    image: dict[str, Any] = {
        **key,
        "time": {"S": "2026-01-01T00:00:00.000Z"},
        "timeMs": {"N": "1767225600000"},
        "operation": {"S": operation},
        "requestId": {"S": "req-1"},
        "tenant": {"S": "acme"},
        "secretId": {"S": "0190b5a8-0000-7000-8000-000000000001"},
        "outcome": {"S": "allowed"},
        **{flag: {"BOOL": written} for flag in flags},
    }
    return {
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {"Keys": key, "NewImage": image, "StreamViewType": "NEW_IMAGE"},
    }


def check_publisher_role(cfn: dict[str, Any], queues: set[str]) -> Iterator[str]:
    resources = cfn.get("Resources", {})
    role_name = getatt_target(resources[PUBLISHER].get("Properties", {}).get("Role"))
    if role_name not in resources:
        return
    for statement in statements(resources[role_name]):
        if statement.get("Effect") != "Allow":
            continue
        actions = {str(action) for action in as_list(statement.get("Action", []))}
        scope = as_list(statement.get("Resource", []))
        if PUT_EVENTS in actions:
            source = statement.get("Condition", {}).get("StringEquals", {}).get("events:source")
            if actions != {PUT_EVENTS} or [sub_text(resource) for resource in scope] != [DEFAULT_BUS]:
                yield f"{role_name}: {PUT_EVENTS} alone, on the default bus alone ({DEFAULT_BUS})"
            if as_list(source) != [SOURCE]:
                yield f"{role_name}: {PUT_EVENTS} only for the source {SOURCE} (Condition StringEquals events:source)"
        dynamodb = {action for action in actions if action.startswith("dynamodb:")}
        if dynamodb - STREAM_READS - {LIST_STREAMS}:
            yield (
                f"{role_name}: the publish role reads the audit table's stream, never a table: "
                f"no {', '.join(sorted(dynamodb - STREAM_READS - {LIST_STREAMS}))}"
            )
        if dynamodb & STREAM_READS and (
            actions != STREAM_READS or [getatt_parts(resource) for resource in scope] != [(AUDIT_TABLE, "StreamArn")]
        ):
            yield f"{role_name}: the stream reads, all three alone, on the audit table's stream alone"
        if LIST_STREAMS in actions and (actions != {LIST_STREAMS} or scope != ["*"]):
            yield f'{role_name}: {LIST_STREAMS} alone, on "*" (it names no resource)'
        if any(action.startswith("kms:") for action in actions):
            yield f"{role_name}: the publish role may use no key (it never sees a value)"
        if SEND_MESSAGE in actions and (
            actions != {SEND_MESSAGE}
            or not scope
            or {getatt_parts(resource) for resource in scope} - queue_arns(queues)
        ):
            yield f"{role_name}: {SEND_MESSAGE} alone, on its mapping's failure queue alone"


def queue_arns(queues: set[str]) -> set[tuple[str, str] | None]:
    return {(queue, "Arn") for queue in queues}


def check_invokers(cfn: dict[str, Any], targets: set[str]) -> Iterator[str]:
    """No resource policy lets anyone (a service, another account) invoke
    it: its mapping invokes it with Lambda's own poller."""
    for name, permission in resources_of(cfn, "AWS::Lambda::Permission"):
        function = permission.get("Properties", {}).get("FunctionName")
        named = ref_target(function) or getatt_target(function) or sub_text(function) or ""
        if named in targets or any(target in named for target in targets):
            yield f"{name}: lets someone invoke {PUBLISHER}, which only its event source mapping may"


def check_alarms(cfn: dict[str, Any], queues: set[str]) -> Iterator[str]:
    metrics = [metric for _, alarm in resources_of(cfn, "AWS::CloudWatch::Alarm") for metric in metrics_of(alarm)]
    if not any(
        (metric.get("Namespace"), metric.get("MetricName")) == ITERATOR_AGE
        and ref_target(dimension(metric, "FunctionName")) == PUBLISHER
        for metric in metrics
    ):
        yield f"{PUBLISHER}: needs an alarm on its IteratorAge (how far behind the stream the events are)"
    for queue in sorted(queues):
        if not any(
            (metric.get("Namespace"), metric.get("MetricName")) == BACKLOG
            and getatt_parts(dimension(metric, "QueueName")) == (queue, "QueueName")
            for metric in metrics
        ):
            yield f"{queue}: needs an alarm on its {BACKLOG[1]}: a batch given up on is lost until someone acts"
