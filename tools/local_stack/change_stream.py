"""The event source mapping of `publish-changes`, played by the local stack:
Lambda's poller of the audit table's stream, reading moto's DynamoDB
Streams and invoking the function through `cargo lambda watch`'s Invoke API.

As the mapping in template.yaml (its settings are read from there: the one
DynamoDB event of PublishChangesFunction):

- every shard of the stream is read from StartingPosition, in order;
- records not matching FilterCriteria (event_pattern.py) are dropped, and
  count as processed;
- the function gets `{"Records": [...]}`, at most BatchSize records in
  stream order, each as Lambda hands it over: `eventSourceARN` added,
  `ApproximateCreationDateTime` in epoch seconds (DynamoDB Streams rounds
  it down to the second; boto3 reads it as a datetime), binary values in
  base64;
- with ReportBatchItemFailures, the first record `batchItemFailures` names
  is where the shard is read again (the records before it are done); an
  identifier naming no record of the batch fails the whole batch, and an
  empty or null answer is a success, as Lambda reads them;
- a function error (X-Amz-Function-Error, a 5xx from cargo lambda watch,
  or the init error it answers with a 200) fails the batch; with BisectBatchOnFunctionError a batch of several
  records is first split in two, which is not a retry;
- once a batch has been retried MaximumRetryAttempts times, it is given up:
  the record Lambda sends to the on-failure destination is logged, and the
  shard moves on.

Where it differs from Lambda:

- One poller, every POLL_S, invoking as soon as it has read: it does not
  wait MaximumBatchingWindowInSeconds to fill a batch, so events come
  sooner and batches are smaller than in AWS. No ParallelizationFactor.
- An invocation that could not be made (cargo lambda watch not answering,
  or a 4xx: a function it does not know) counts as a failed attempt; Lambda
  retries those without counting, until the records are too old.
- MaximumRecordAgeInSeconds is not applied (moto keeps records for ever),
  and shards are read in DescribeStream's order, not parents first (moto's
  stream has one shard, which never closes or splits).
- Nothing is sent to the on-failure queue: the stack log has the record.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tools import ROOT
from tools.local_stack import event_pattern
from tools.local_stack.gateway import function_error
from tools.local_stack.processes import log

FUNCTION_ID = "PublishChangesFunction"
FUNCTION_NAME = "publish-changes"
POLL_S = 0.2
# cargo lambda watch starts a function on its first invocation (`cargo run`:
# minutes if anything must be built). A timeout is a failed attempt.
INVOKE_TIMEOUT_S = 300
# New shards are looked for this often (DynamoDB rolls a stream's shards
# over every few hours; moto never does).
DESCRIBE_EVERY_S = 10
GET_RECORDS_LIMIT = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class Mapping:
    """The settings of the event source mapping that the poller plays
    (Lambda's defaults for those the template leaves out)."""

    starting_position: str
    patterns: tuple[dict[str, Any], ...] = ()
    batch_size: int = 100
    maximum_retry_attempts: int = -1  # -1: for ever
    bisect_on_function_error: bool = False
    report_batch_item_failures: bool = False

    def takes(self, record: dict[str, Any]) -> bool:
        return not self.patterns or any(event_pattern.matches(pattern, record) for pattern in self.patterns)


def load_mapping(template: Path = ROOT / "template.yaml") -> Mapping:
    """The DynamoDB event source of PublishChangesFunction in `template`."""
    from samtranslator.yaml_helper import yaml_parse  # reads CloudFormation's tags

    resources = yaml_parse(template.read_text()).get("Resources") or {}
    events = ((resources.get(FUNCTION_ID) or {}).get("Properties") or {}).get("Events") or {}
    sources = [event.get("Properties") or {} for event in events.values() if event.get("Type") == "DynamoDB"]
    if len(sources) != 1:
        raise LookupError(
            f"{template.name}: {FUNCTION_ID} has {len(sources)} DynamoDB event sources; the local stack plays one"
        )
    (source,) = sources
    filters = (source.get("FilterCriteria") or {}).get("Filters") or []
    return Mapping(
        starting_position=literal(source, "StartingPosition", str, None),
        patterns=tuple(event_pattern.parse(literal(entry, "Pattern", str, None)) for entry in filters),
        batch_size=literal(source, "BatchSize", int, 100),
        maximum_retry_attempts=literal(source, "MaximumRetryAttempts", int, -1),
        bisect_on_function_error=literal(source, "BisectBatchOnFunctionError", bool, False),
        report_batch_item_failures="ReportBatchItemFailures" in (source.get("FunctionResponseTypes") or []),
    )


def literal(properties: dict[str, Any], name: str, kind: type[T], default: T | None) -> T:
    """A property the template must spell out (no !Ref or !Sub: the local
    stack has no parameters to resolve them with)."""
    value = properties.get(name, default)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"template.yaml: {FUNCTION_ID}'s stream {name} must be a literal {kind.__name__}: {value!r}")
    return value


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record, as boto3 reads it from GetRecords, as Lambda hands
    it to the function."""
    shaped: dict[str, Any] = as_json(record)
    shaped["eventSourceARN"] = stream_arn
    return shaped


def as_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: as_json(element) for name, element in value.items()}
    if isinstance(value, list | tuple | set):
        return [as_json(element) for element in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.datetime):
        return math.floor(value.timestamp())
    return value


@dataclass(frozen=True)
class Outcome:
    """What an invocation did to its batch: all of it done (retry_from
    None), or to be read again from its record at `retry_from`."""

    retry_from: int | None
    reason: str = ""
    function_error: bool = False


DONE = Outcome(None)


def judge(status: int, headers: list[tuple[str, str]], payload: bytes, sequences: list[str], report: bool) -> Outcome:
    """An Invoke API answer to a batch whose records have `sequences`, read
    as the mapping reads it (`report`: ReportBatchItemFailures)."""
    flagged = any(name.lower() == "x-amz-function-error" for name, _ in headers)
    if flagged or status >= 500:
        return Outcome(0, f"function error {function_error(status, headers, payload)}", function_error=True)
    if status >= 400:
        return Outcome(0, f"HTTP {status} from the Invoke API: {payload[:200].decode(errors='replace')}")
    try:
        answer = json.loads(payload) if payload.strip() else None
    except ValueError:
        return DONE if not report else Outcome(0, f"an answer that is not JSON: {payload[:200]!r}")
    if isinstance(answer, dict) and {"errorType", "errorMessage"} <= answer.keys():
        # A function that failed to start: cargo lambda watch hands its init
        # error to the invocation as a 200 answer; Lambda fails the
        # invocation (X-Amz-Function-Error: Unhandled).
        return Outcome(0, f"function error {answer['errorType']} (at init)", function_error=True)
    if not report or answer is None:
        return DONE
    failures = answer.get("batchItemFailures") if isinstance(answer, dict) else "not an object"
    if not failures:
        return DONE
    if not isinstance(failures, list):
        return Outcome(0, f"an answer Lambda cannot read: {payload[:200]!r}")
    positions = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in sequences:
            return Outcome(0, f"batchItemFailures names {identifier!r}, no record of the batch: all of it failed")
        positions.append(sequences.index(identifier))
    first = min(positions)
    return Outcome(first, f"batchItemFailures from {sequences[first]}")


@dataclass
class Shard:
    id: str
    # Where the next read starts: (ShardIteratorType, SequenceNumber).
    position: tuple[str, str | None]
    limit: int  # records a batch may hold: BatchSize, less while bisecting
    iterator: str | None = None
    finished: bool = False
    # The record the shard is being retried from, and how many attempts failed.
    failing: str | None = None
    failures: int = 0


class ChangeStream:
    """The poller, in a thread of the stack's process: start() and stop()."""

    def __init__(
        self,
        endpoint: str,
        region: str,
        table: str,
        invoke_url: str,
        mapping: Mapping,
        poll_s: float = POLL_S,
        invoke_timeout_s: float = INVOKE_TIMEOUT_S,
        report: Callable[[str], None] | None = None,
    ) -> None:
        import boto3  # from the venv, installed with moto

        session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=region)
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self.streams = session.client("dynamodbstreams", endpoint_url=endpoint)
        self.table = table
        self.invoke_url = invoke_url
        self.mapping = mapping
        self.poll_s = poll_s
        self.invoke_timeout_s = invoke_timeout_s
        self.report = report or log  # the stack log
        self.stream_arn = ""
        self.shards: dict[str, Shard] = {}
        self.described = -math.inf
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="change-stream", daemon=True)

    def start(self) -> None:
        """Finds the stream (a table without one fails here, not in the
        thread), then polls it until stop()."""
        table = self.dynamodb.describe_table(TableName=self.table)["Table"]
        if not table.get("StreamSpecification", {}).get("StreamEnabled") or "LatestStreamArn" not in table:
            raise RuntimeError(f"table {self.table} has no stream for {FUNCTION_NAME}")
        self.stream_arn = table["LatestStreamArn"]
        self.report(f"change stream: {FUNCTION_NAME} reads {self.stream_arn} (as its event source mapping)")
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            # An invocation in flight is not waited for: the thread is a daemon.
            self.thread.join(timeout=5)

    def run(self) -> None:
        problem = ""
        while not self.stopping.is_set():
            try:
                busy = self.poll()
                problem = ""
            except Exception as error:  # whatever it is, the stack goes on: logged once until it changes
                if repr(error) != problem:
                    problem = repr(error)
                    self.report(f"change stream: reading the stream failed, retrying: {problem}")
                for shard in self.shards.values():
                    shard.iterator = None
                busy = False
            if not busy:
                self.stopping.wait(self.poll_s)

    def poll(self) -> bool:
        """One read of every shard; whether any had records (then the next
        poll comes at once)."""
        if time.monotonic() - self.described > DESCRIBE_EVERY_S:
            self.describe()
        busy = False
        for shard in list(self.shards.values()):
            if self.stopping.is_set():
                break
            busy = self.poll_shard(shard) or busy
        return busy

    def describe(self) -> None:
        request: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self.streams.describe_stream(**request)["StreamDescription"]
            for listed in description.get("Shards", []):
                if listed["ShardId"] not in self.shards:
                    self.shards[listed["ShardId"]] = Shard(
                        listed["ShardId"], (self.mapping.starting_position, None), self.mapping.batch_size
                    )
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            request["ExclusiveStartShardId"] = last
        self.described = time.monotonic()

    def poll_shard(self, shard: Shard) -> bool:
        if shard.finished:
            return False
        if shard.iterator is None:
            kind, sequence = shard.position
            request = {"StreamArn": self.stream_arn, "ShardId": shard.id, "ShardIteratorType": kind}
            if sequence is not None:
                request["SequenceNumber"] = sequence
            shard.iterator = self.streams.get_shard_iterator(**request)["ShardIterator"]
        answer = self.streams.get_records(ShardIterator=shard.iterator, Limit=GET_RECORDS_LIMIT)
        records: list[dict[str, Any]] = answer.get("Records", [])
        following = answer.get("NextShardIterator")
        if not records:
            shard.iterator, shard.finished = following, following is None
            return False
        batch: list[dict[str, Any]] = []
        end = len(records) - 1
        for index, record in enumerate(records):
            shaped = lambda_record(record, self.stream_arn)
            if self.mapping.takes(shaped):
                if len(batch) == shard.limit:
                    end = index - 1
                    break
                batch.append(shaped)
        # The batch covers the records read up to `end`, those filtered out
        # with it; the rest are read again.
        last = records[end]["dynamodb"]["SequenceNumber"]
        outcome = self.invoke(batch) if batch else DONE
        if outcome.retry_from is None:
            if batch:
                first, final = (batch[i]["dynamodb"]["SequenceNumber"] for i in (0, -1))
                self.report(f"change stream: {FUNCTION_NAME} took {len(batch)} record(s), {first} to {final}")
            whole = end == len(records) - 1
            self.move_on(shard, last, following if whole else None)
            shard.finished = whole and following is None
            return True
        self.failed(shard, batch, outcome, last)
        return False

    def move_on(self, shard: Shard, last: str, following: str | None) -> None:
        shard.position, shard.iterator = ("AFTER_SEQUENCE_NUMBER", last), following
        shard.limit, shard.failing, shard.failures = self.mapping.batch_size, None, 0

    def failed(self, shard: Shard, batch: list[dict[str, Any]], outcome: Outcome, last: str) -> None:
        start = outcome.retry_from or 0
        head = batch[start]["dynamodb"]["SequenceNumber"]
        shard.position, shard.iterator = ("AT_SEQUENCE_NUMBER", head), None
        if outcome.function_error and self.mapping.bisect_on_function_error and len(batch) > 1:
            shard.limit = len(batch) // 2
            self.report(f"change stream: {FUNCTION_NAME}: {outcome.reason}; batch split, next {shard.limit} record(s)")
            return
        if head == shard.failing:
            shard.failures += 1
        else:
            shard.failing, shard.failures = head, 1
        retries, allowed = shard.failures - 1, self.mapping.maximum_retry_attempts
        if 0 <= allowed <= retries:
            given_up = batch[start:]
            record = on_failure_record(self.stream_arn, shard.id, given_up, shard.failures, outcome.reason)
            self.report(
                f"change stream: {FUNCTION_NAME} failed {len(given_up)} record(s) after {retries} retries, "
                f"given up (in AWS, to the mapping's on-failure queue): {json.dumps(record)}"
            )
            self.move_on(shard, last, None)
            return
        self.report(
            f"change stream: {FUNCTION_NAME}: {outcome.reason}; "
            f"retry {shard.failures} of {'unlimited' if allowed < 0 else allowed} from {head}"
        )

    def invoke(self, batch: list[dict[str, Any]]) -> Outcome:
        request = urllib.request.Request(
            self.invoke_url,
            data=json.dumps({"Records": batch}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.invoke_timeout_s) as response:
                status, headers, payload = response.status, response.getheaders(), response.read()
        except urllib.error.HTTPError as error:
            status, headers, payload = error.code, list(error.headers.items()), error.read()
        except (urllib.error.URLError, OSError) as error:
            return Outcome(0, f"no answer from the Invoke API: {error}")
        sequences = [record["dynamodb"]["SequenceNumber"] for record in batch]
        return judge(status, headers, payload, sequences, self.mapping.report_batch_item_failures)


def on_failure_record(
    stream_arn: str, shard_id: str, batch: list[dict[str, Any]], attempts: int, reason: str
) -> dict[str, Any]:
    """What Lambda sends the mapping's on-failure destination: where the
    given-up records are, not the records."""
    first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
    return {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempts},
        "responseContext": {"functionError": reason},
        "version": "1.0",
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["SequenceNumber"],
            "endSequenceNumber": last["SequenceNumber"],
            "approximateArrivalOfFirstRecord": arrival(first),
            "approximateArrivalOfLastRecord": arrival(last),
            "batchSize": len(batch),
            "streamArn": stream_arn,
        },
    }


def arrival(change: dict[str, Any]) -> str | None:
    """A record's arrival as Lambda's failure record gives it: RFC 3339 UTC
    (the stream gives seconds since the epoch), which republish-changes
    reads its window from."""
    seconds = change.get("ApproximateCreationDateTime")
    if not isinstance(seconds, (int, float)):
        return None
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def invoke_url(host: str, router_port: int) -> str:
    """`publish-changes` through cargo lambda watch's Invoke API."""
    return f"http://{host}:{router_port}/2015-03-31/functions/{FUNCTION_NAME}/invocations"
