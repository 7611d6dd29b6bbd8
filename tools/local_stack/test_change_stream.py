"""The local stand-in for publish-changes's event source mapping: the audit
stream read from the emulator, filtered, batched and handed to a stand-in
Invoke API as Lambda would, retried as Lambda retries. Run by `make test`."""

from __future__ import annotations

import datetime
import json
import tempfile
import threading
import time
import unittest
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tools.local_stack import change_stream, event_pattern
from tools.local_stack.moto_in_process import MotoInProcess
from tools.local_stack.processes import HOST, free_port

SPEC_PATTERN = {
    "eventName": ["INSERT"],
    "dynamodb": {
        "NewImage": {
            "outcome": {"S": ["allowed"]},
            "operation": {
                "S": ["createSecret", "updateSecret", "deleteSecret", "restoreSecretVersion", "recoverDeletedSecret"]
            },
            "replayed": {"BOOL": [False, {"exists": False}]},
            "unchanged": {"BOOL": [False, {"exists": False}]},
        }
    },
}
MAPPING = change_stream.Mapping(
    starting_position="TRIM_HORIZON",
    patterns=(SPEC_PATTERN,),
    batch_size=100,
    maximum_retry_attempts=-1,
    bisect_on_function_error=True,
    report_batch_item_failures=True,
)
Answer = tuple[int, dict[str, str], bytes]
SEQUENCES = ["101", "102", "103"]
DONE: Answer = (200, {}, b'{"batchItemFailures":[]}')


class InvokeApi:
    """A stand-in for cargo lambda watch's Invoke API: records what each
    invocation was given, answers what `answer` says."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []
        self.answer: Callable[[list[dict[str, Any]]], Answer] = lambda _: DONE
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.calls.append((self.path, event["Records"]))
                status, headers, body = stand_in.answer(event["Records"])
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = change_stream.invoke_url(HOST, self.server.server_port)

    def batches(self) -> list[list[str]]:
        """The request ids each invocation was given."""
        return [[record["dynamodb"]["NewImage"]["requestId"]["S"] for record in records] for _, records in self.calls]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def failing_for(request_id: str, answer: Answer) -> Callable[[list[dict[str, Any]]], Answer]:
    """Answers `answer` to every batch holding `request_id`'s record, else success."""

    def answering(records: list[dict[str, Any]]) -> Answer:
        ids = [record["dynamodb"]["NewImage"]["requestId"]["S"] for record in records]
        return answer if request_id in ids else DONE

    return answering


def sequence_of(records: list[dict[str, Any]], request_id: str) -> str:
    (sequence,) = [
        r["dynamodb"]["SequenceNumber"] for r in records if r["dynamodb"]["NewImage"]["requestId"]["S"] == request_id
    ]
    return str(sequence)


class Poller(unittest.TestCase):
    def setUp(self) -> None:
        self.moto = MotoInProcess()
        self.addCleanup(self.moto.stop)
        self.dynamodb = self.moto.client("dynamodb")
        self.dynamodb.create_table(
            TableName="audit",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        self.function = InvokeApi()
        self.addCleanup(self.function.stop)
        self.logged: list[str] = []

    def audit(self, request_id: str, operation: str = "createSecret", outcome: str = "allowed", flag: str = "") -> None:
        """An audit record, as the functions write them (`flag`: replayed
        or unchanged, written only when true)."""
        item: dict[str, dict[str, Any]] = {
            "pk": {"S": "TENANT#acme"},
            "sk": {"S": f"AUDIT#{request_id}"},
            "requestId": {"S": request_id},
            "operation": {"S": operation},
            "outcome": {"S": outcome},
            "tenant": {"S": "acme"},
        }
        if flag:
            item[flag] = {"BOOL": True}
        self.dynamodb.put_item(TableName="audit", Item=item)

    def start(self, mapping: change_stream.Mapping = MAPPING, url: str | None = None) -> change_stream.ChangeStream:
        poller = change_stream.ChangeStream(
            self.moto.endpoint,
            "us-east-1",
            "audit",
            url or self.function.url,
            mapping,
            poll_s=0.01,
            report=self.logged.append,
        )
        poller.start()
        self.addCleanup(poller.stop)
        return poller

    def settle(self, condition: Callable[[], bool], timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                self.fail(f"not reached in {timeout_s} s; invocations: {self.function.batches()}; log: {self.logged}")
            time.sleep(0.01)

    def test_allowed_changes_reach_the_function_as_lambda_hands_them(self) -> None:
        self.audit("r1")
        self.audit("r2", outcome="refused")
        self.audit("r3", operation="resolveSecret")
        self.audit("r4", operation="updateSecret")
        before = time.time()
        poller = self.start()
        self.settle(lambda: len(self.function.calls) == 1)
        self.audit("r5", operation="deleteSecret")
        self.settle(lambda: len(self.function.calls) == 2)
        self.assertEqual(self.function.batches(), [["r1", "r4"], ["r5"]])
        path, records = self.function.calls[0]
        self.assertEqual(path, "/2015-03-31/functions/publish-changes/invocations")
        first = records[0]
        self.assertEqual(first["eventSourceARN"], poller.stream_arn)
        self.assertTrue(poller.stream_arn.startswith("arn:aws:dynamodb:us-east-1:"), poller.stream_arn)
        self.assertEqual((first["eventName"], first["eventSource"]), ("INSERT", "aws:dynamodb"))
        self.assertEqual(first["dynamodb"]["Keys"], {"pk": {"S": "TENANT#acme"}, "sk": {"S": "AUDIT#r1"}})
        self.assertEqual(first["dynamodb"]["StreamViewType"], "NEW_IMAGE")
        created = first["dynamodb"]["ApproximateCreationDateTime"]
        self.assertIsInstance(created, int, "epoch seconds, as Lambda hands them")
        self.assertLessEqual(abs(created - before), 5)
        sequences = [int(r["dynamodb"]["SequenceNumber"]) for _, batch in self.function.calls for r in batch]
        self.assertEqual(sequences, sorted(sequences))

    def test_replays_and_updates_that_changed_nothing_reach_no_function(self) -> None:
        self.audit("r1", flag="replayed")
        self.audit("r2", operation="updateSecret", flag="unchanged")
        self.audit("r3", operation="updateSecret")
        self.start()
        self.settle(lambda: len(self.function.calls) == 1)
        time.sleep(0.1)
        self.assertEqual(self.function.batches(), [["r3"]])

    def test_a_batch_holds_at_most_batch_size_records(self) -> None:
        for index in range(5):
            self.audit(f"r{index}")
        self.start(change_stream.Mapping(**{**MAPPING.__dict__, "batch_size": 2}))
        self.settle(lambda: len(self.function.calls) == 3)
        self.assertEqual(self.function.batches(), [["r0", "r1"], ["r2", "r3"], ["r4"]])

    def test_batch_item_failures_are_retried_from_the_record_they_name(self) -> None:
        for request_id in ("r1", "r2", "r3"):
            self.audit(request_id)
        answers: list[Answer] = []

        def first_fails_from_r2(records: list[dict[str, Any]]) -> Answer:
            if answers:
                return DONE
            failure = {"batchItemFailures": [{"itemIdentifier": sequence_of(records, "r2")}]}
            answers.append((200, {}, json.dumps(failure).encode()))
            return answers[0]

        self.function.answer = first_fails_from_r2
        self.start()
        self.settle(lambda: len(self.function.calls) == 2)
        time.sleep(0.1)
        self.assertEqual(self.function.batches(), [["r1", "r2", "r3"], ["r2", "r3"]])

    def test_a_record_that_keeps_failing_is_given_up_after_the_retries(self) -> None:
        for request_id in ("r1", "r2", "r3"):
            self.audit(request_id)

        def failing_from_r2(records: list[dict[str, Any]]) -> Answer:
            if "r2" not in [r["dynamodb"]["NewImage"]["requestId"]["S"] for r in records]:
                return DONE
            return 200, {}, json.dumps({"batchItemFailures": [{"itemIdentifier": sequence_of(records, "r2")}]}).encode()

        self.function.answer = failing_from_r2
        self.start(change_stream.Mapping(**{**MAPPING.__dict__, "maximum_retry_attempts": 2}))
        self.settle(lambda: any("given up" in line for line in self.logged))
        self.audit("r4")
        self.settle(lambda: self.function.batches()[-1:] == [["r4"]])
        # Once, then twice again from r2; then r2 and r3 (its batch) are given up.
        self.assertEqual(self.function.batches(), [["r1", "r2", "r3"], ["r2", "r3"], ["r2", "r3"], ["r4"]])
        (given_up,) = [line for line in self.logged if "given up" in line]
        record = json.loads(given_up[given_up.index("{") :])
        self.assertEqual(record["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.assertEqual(record["DDBStreamBatchInfo"]["batchSize"], 2)

    def test_a_function_error_splits_the_batch_before_counting_retries(self) -> None:
        for request_id in ("r1", "r2", "r3", "r4"):
            self.audit(request_id)
        error = (200, {"X-Amz-Function-Error": "Unhandled"}, b'{"errorType":"Boom","errorMessage":"boom"}')
        self.function.answer = failing_for("r2", error)
        self.start(change_stream.Mapping(**{**MAPPING.__dict__, "maximum_retry_attempts": 1}))
        self.settle(lambda: self.function.batches()[-1:] == [["r3", "r4"]])
        self.assertEqual(
            self.function.batches(),
            [
                ["r1", "r2", "r3", "r4"],  # fails: split in two
                ["r1", "r2"],  # fails: split again
                ["r1"],
                ["r2", "r3", "r4"],  # a whole batch again after a success; fails: split
                ["r2"],  # fails: the first attempt of r2 alone
                ["r2"],  # its one retry fails: given up
                ["r3", "r4"],
            ],
        )

    def test_an_invoke_api_that_does_not_answer_is_retried_not_fatal(self) -> None:
        self.audit("r1")
        closed = change_stream.invoke_url(HOST, free_port())
        poller = self.start(change_stream.Mapping(**{**MAPPING.__dict__, "maximum_retry_attempts": 1}), url=closed)
        self.settle(lambda: any("given up" in line for line in self.logged))
        self.assertTrue(poller.thread.is_alive())
        self.assertTrue(any("no answer from the Invoke API" in line for line in self.logged), self.logged)
        poller.stop()
        self.assertFalse(poller.thread.is_alive())

    def test_a_cancelled_transaction_reaches_no_function(self) -> None:
        self.audit("taken")
        self.start()
        self.settle(lambda: len(self.function.calls) == 1)
        cancelled = {
            "Put": {
                "TableName": "audit",
                "Item": {"pk": {"S": "TENANT#acme"}, "sk": {"S": "AUDIT#taken"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        change = {
            "pk": {"S": "TENANT#acme"},
            "sk": {"S": "AUDIT#never"},
            "requestId": {"S": "never"},
            "operation": {"S": "createSecret"},
            "outcome": {"S": "allowed"},
        }
        with self.assertRaises(self.dynamodb.exceptions.TransactionCanceledException):
            self.dynamodb.transact_write_items(
                TransactItems=[cancelled, {"Put": {"TableName": "audit", "Item": change}}]
            )
        self.audit("after")
        self.settle(lambda: len(self.function.calls) == 2)
        self.assertEqual(self.function.batches(), [["taken"], ["after"]])


class Answers(unittest.TestCase):
    """An Invoke API answer, read as the mapping reads it."""

    def judge(self, status: int, payload: bytes, headers: list[tuple[str, str]] | None = None) -> Any:
        return change_stream.judge(status, headers or [], payload, SEQUENCES, report=True)

    def test_successes(self) -> None:
        for payload in (b"", b"null", b"{}", b'{"batchItemFailures":[]}', b'{"batchItemFailures":null}'):
            with self.subTest(payload):
                self.assertIsNone(self.judge(200, payload).retry_from)

    def test_partial_failures_retry_from_the_first_record_named(self) -> None:
        failures = {"batchItemFailures": [{"itemIdentifier": "103"}, {"itemIdentifier": "102"}]}
        self.assertEqual(self.judge(200, json.dumps(failures).encode()).retry_from, 1)

    def test_an_identifier_naming_no_record_fails_the_batch(self) -> None:
        for failure in ({"itemIdentifier": "999"}, {"itemIdentifier": ""}, {"itemIdentifier": None}, {"id": "102"}):
            with self.subTest(failure):
                outcome = self.judge(200, json.dumps({"batchItemFailures": [failure]}).encode())
                self.assertEqual((outcome.retry_from, outcome.function_error), (0, False))

    def test_without_report_batch_item_failures_the_answer_is_not_read(self) -> None:
        failures = b'{"batchItemFailures":[{"itemIdentifier":"102"}]}'
        self.assertIsNone(change_stream.judge(200, [], failures, SEQUENCES, report=False).retry_from)

    def test_function_errors_and_failed_invocations(self) -> None:
        flagged = self.judge(200, b'{"errorType":"Boom"}', [("X-Amz-Function-Error", "Unhandled")])
        self.assertEqual((flagged.retry_from, flagged.function_error), (0, True))
        self.assertIn("Boom", flagged.reason)
        self.assertTrue(self.judge(502, b"").function_error)
        started = self.judge(200, b'{"errorType":"Runtime.InitError","errorMessage":"invalid configuration"}')
        self.assertEqual(
            (started.retry_from, started.function_error), (0, True), "an init error, as cargo lambda watch answers it"
        )
        unknown = self.judge(404, b"function not found")
        self.assertEqual((unknown.retry_from, unknown.function_error), (0, False))


class Records(unittest.TestCase):
    def test_a_record_as_lambda_hands_it(self) -> None:
        created = datetime.datetime(2026, 11, 28, 7, 0, 0, 987000, tzinfo=datetime.UTC)
        record = {
            "eventName": "INSERT",
            "dynamodb": {"ApproximateCreationDateTime": created, "NewImage": {"b": {"B": b"\x00\xff"}}},
        }
        shaped = change_stream.lambda_record(record, "arn:stream")
        self.assertEqual(shaped["dynamodb"]["ApproximateCreationDateTime"], 1795849200, "rounded down")
        self.assertEqual(shaped["dynamodb"]["NewImage"]["b"], {"B": "AP8="})
        self.assertEqual(shaped["eventSourceARN"], "arn:stream")

    def test_a_given_up_batch_as_lambda_names_it(self) -> None:
        batch = [
            {"dynamodb": {"SequenceNumber": "100", "ApproximateCreationDateTime": 1795849200}},
            {"dynamodb": {"SequenceNumber": "102", "ApproximateCreationDateTime": 1795849201}},
        ]
        record = change_stream.on_failure_record("arn:stream", "shard-1", batch, 3, "Unhandled")
        info = record["DDBStreamBatchInfo"]
        self.assertEqual((info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]), ("100", "102", 2))
        # RFC 3339, as AWS documents it and republish-changes reads it.
        self.assertEqual(info["approximateArrivalOfFirstRecord"], "2026-11-28T07:00:00.000Z")
        self.assertEqual(info["approximateArrivalOfLastRecord"], "2026-11-28T07:00:01.000Z")


TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  PublishChangesFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt AuditTable.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 100
            BisectBatchOnFunctionError: true
            MaximumRetryAttempts: -1
            FunctionResponseTypes: [ReportBatchItemFailures]
            DestinationConfig:
              OnFailure:
                Destination: !GetAtt ChangeEventsFailedQueue.Arn
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"outcome": {"S": ["allowed"]},
                    "operation": {"S": ["createSecret", "updateSecret", "deleteSecret", "restoreSecretVersion",
                    "recoverDeletedSecret"]}, "replayed": {"BOOL": [false, {"exists": false}]},
                    "unchanged": {"BOOL": [false, {"exists": false}]}}}}'
"""


class Template(unittest.TestCase):
    def load(self, text: str) -> change_stream.Mapping:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "template.yaml"
            path.write_text(text)
            return change_stream.load_mapping(path)

    def test_the_mapping_is_read_from_the_functions_stream_event(self) -> None:
        self.assertEqual(self.load(TEMPLATE), MAPPING)

    def test_lambdas_defaults_where_the_template_says_nothing(self) -> None:
        bare = TEMPLATE.split("            BatchSize")[0]
        self.assertEqual(
            self.load(bare),
            change_stream.Mapping(starting_position="TRIM_HORIZON", batch_size=100, maximum_retry_attempts=-1),
        )

    def test_what_the_stack_cannot_play_is_refused(self) -> None:
        with self.assertRaises(LookupError):
            self.load(TEMPLATE.replace("Type: DynamoDB", "Type: SQS"))
        with self.assertRaises(ValueError):
            self.load(TEMPLATE.replace("BatchSize: 100", "BatchSize: !Ref Size"))
        with self.assertRaises(ValueError):
            self.load(TEMPLATE.replace('["INSERT"]', '[{"prefix": "IN"}]'))

    def test_the_templates_mapping_is_the_specs(self) -> None:
        mapping = change_stream.load_mapping()
        self.assertEqual(mapping, MAPPING)
        self.assertEqual(mapping.patterns, (event_pattern.parse(json.dumps(SPEC_PATTERN)),))


if __name__ == "__main__":
    unittest.main()
