"""The emulator isolates transactions as DynamoDB does (contention.py): one
test per rule, with a long hold so that a second request surely lands while
the first transaction holds its items. Run by `make test`."""

from __future__ import annotations

import json
import threading
import time
import unittest
from typing import Any

from werkzeug.test import Client

from tools.local_stack import contention, emulator
from tools.local_stack.test_emulator import AUTH, TABLE

HOLD_MS = 400


def key(sk: str) -> dict[str, Any]:
    return {"pk": {"S": "p"}, "sk": {"S": sk}}


def put(sk: str, **extra: Any) -> dict[str, Any]:
    return {"Put": {"TableName": "t", "Item": {**key(sk), "v": {"S": "new"}}, **extra}}


class Isolation(unittest.TestCase):
    def setUp(self) -> None:
        from moto.dynamodb.models import dynamodb_backends

        dynamodb_backends.reset()
        self.app = emulator.application(transaction_hold_ms=HOLD_MS)
        self.send("CreateTable", TABLE)
        for sk in ("held", "free"):
            self.send("PutItem", {"TableName": "t", "Item": {**key(sk), "v": {"S": "old"}}})

    def call(self, target: str, service: str, body: dict[str, Any], json_version: str = "1.0") -> tuple[int, bytes]:
        """One JSON-protocol call to the emulator: `target` (X-Amz-Target),
        signed for `service`."""
        # A client per call: werkzeug's test client is not shared across threads.
        response = Client(self.app).post(
            "/",
            data=json.dumps(body),
            headers={
                "X-Amz-Target": target,
                "Authorization": AUTH.replace("/dynamodb/", f"/{service}/"),
                "Content-Type": f"application/x-amz-json-{json_version}",
            },
        )
        return response.status_code, response.get_data()

    def send(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, answer = self.call(f"DynamoDB_20120810.{operation}", "dynamodb", body)
        return status, json.loads(answer or b"{}")

    def holding(self, items: list[dict[str, Any]]) -> tuple[threading.Thread, list[tuple[int, dict[str, Any]]]]:
        """Starts a transaction in the background; returns once it holds its items."""
        answers: list[tuple[int, dict[str, Any]]] = []
        thread = threading.Thread(
            target=lambda: answers.append(self.send("TransactWriteItems", {"TransactItems": items}))
        )
        thread.start()
        deadline = time.monotonic() + 5
        while not self.app.held and time.monotonic() < deadline:
            time.sleep(0.001)
        self.assertTrue(self.app.held, "the transaction never claimed its items")
        return thread, answers

    def value(self, sk: str) -> str | None:
        _, got = self.send("GetItem", {"TableName": "t", "Key": key(sk), "ConsistentRead": True})
        item = got.get("Item")
        return None if item is None else str(item["v"]["S"])

    def test_the_default_hold_is_a_realistic_nonzero_time(self) -> None:
        default = emulator.application()
        self.assertEqual(default.hold_seconds, contention.DEFAULT_HOLD_MS / 1000)
        self.assertGreater(default.hold_seconds, 0)

    def test_a_transaction_naming_a_held_item_is_cancelled_at_once_for_that_item(self) -> None:
        first, answers = self.holding([put("held")])
        status, body = self.send("TransactWriteItems", {"TransactItems": [put("free"), put("held")]})
        self.assertTrue(first.is_alive(), "answered at once, while the first still holds its item")
        self.assertEqual(status, 400)
        self.assertTrue(body["__type"].endswith("#TransactionCanceledException"), body)
        self.assertEqual([reason["Code"] for reason in body["CancellationReasons"]], ["None", "TransactionConflict"])
        first.join()
        self.assertEqual(answers[0][0], 200, answers)
        self.assertEqual(self.value("free"), "old", "the cancelled transaction wrote nothing")

    def test_single_writes_of_a_held_item_fail_with_transaction_conflict(self) -> None:
        first, _ = self.holding([put("held")])
        writes = [
            ("PutItem", {"TableName": "t", "Item": {**key("held"), "v": {"S": "single"}}}),
            (
                "UpdateItem",
                {
                    "TableName": "t",
                    "Key": key("held"),
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"S": "single"}},
                },
            ),
            ("DeleteItem", {"TableName": "t", "Key": key("held")}),
        ]
        for operation, request in writes:
            status, body = self.send(operation, request)
            self.assertEqual(status, 400, operation)
            self.assertTrue(body["__type"].endswith("#TransactionConflictException"), (operation, body))
        status, _ = self.send("PutItem", {"TableName": "t", "Item": {**key("free"), "v": {"S": "single"}}})
        self.assertEqual(status, 200, "an item nobody holds is written at once")
        self.assertTrue(first.is_alive())
        first.join()
        self.assertEqual(self.value("held"), "new", "only the transaction wrote the held item")

    def test_reads_see_the_last_committed_state_and_are_not_kept_waiting(self) -> None:
        first, _ = self.holding([put("held")])
        self.assertEqual(self.value("held"), "old")
        self.assertTrue(first.is_alive(), "the read was served while the transaction held its item")
        first.join()
        self.assertEqual(self.value("held"), "new")

    def test_a_transaction_about_to_fail_still_holds_its_items(self) -> None:
        doomed = put("held", ConditionExpression="attribute_not_exists(pk)")
        first, answers = self.holding([doomed])
        status, body = self.send("TransactWriteItems", {"TransactItems": [put("held")]})
        self.assertEqual((status, body["CancellationReasons"][0]["Code"]), (400, "TransactionConflict"))
        first.join()
        status, body = answers[0]
        self.assertEqual((status, body["CancellationReasons"][0]["Code"]), (400, "ConditionalCheckFailed"))

    def test_a_malformed_write_names_no_item_and_is_left_to_moto(self) -> None:
        environ: dict[str, Any] = {}
        for action in ("not an action", {"TableName": 5}, {"TableName": "t", "Item": []}, {"TableName": "t"}):
            self.assertIsNone(self.app.held_key(environ, action), action)
        self.assertIsNotNone(self.app.held_key(environ, {"TableName": "t", "Key": key("held")}))

    def test_held_items_are_let_go_once_the_transaction_ends(self) -> None:
        first, _ = self.holding([put("held")])
        first.join()
        self.assertEqual(self.app.held, set())
        status, _ = self.send("TransactWriteItems", {"TransactItems": [put("held")]})
        self.assertEqual(status, 200)

    def test_transactions_on_different_items_overlap(self) -> None:
        first, _ = self.holding([put("held")])
        second = threading.Thread(
            target=lambda: self.send("TransactWriteItems", {"TransactItems": [put("free")]}), daemon=True
        )
        second.start()
        deadline = time.monotonic() + 5
        while len(self.app.held) < 2 and first.is_alive() and time.monotonic() < deadline:
            time.sleep(0.001)
        self.assertEqual(len(self.app.held), 2, "both transactions held their items at the same time")
        first.join()
        second.join()
        self.assertEqual((self.value("held"), self.value("free")), ("new", "new"))

    def test_waiting_for_a_busy_emulator_is_not_holding_and_keeps_the_order(self) -> None:
        # The emulator busy with a long call: everything after waits its turn.
        busy = self.app.turns.ticket()
        answers: list[tuple[int, dict[str, Any]]] = []

        def send(items: list[dict[str, Any]]) -> threading.Thread:
            thread = threading.Thread(
                target=lambda: answers.append(self.send("TransactWriteItems", {"TransactItems": items})),
                daemon=True,
            )
            thread.start()
            return thread

        def queued(tickets: int) -> None:
            deadline = time.monotonic() + 5
            while self.app.turns.next_ticket < tickets and time.monotonic() < deadline:
                time.sleep(0.001)
            self.assertEqual(self.app.turns.next_ticket, tickets)

        first = send([put("held")])
        queued(busy + 2)  # held its item, then took a turn after the busy call
        self.assertEqual(self.app.held, set(), "waiting for its turn, it holds nothing")
        second = send(
            [
                {
                    "Update": {
                        "TableName": "t",
                        "Key": key("held"),
                        "UpdateExpression": "SET v = :second",
                        "ConditionExpression": "v = :new",
                        "ExpressionAttributeValues": {":second": {"S": "second"}, ":new": {"S": "new"}},
                    }
                }
            ]
        )
        queued(busy + 3)
        self.app.turns.wait(busy)
        self.app.turns.done()
        first.join()
        second.join()
        self.assertEqual([status for status, _ in answers], [200, 200], answers)
        self.assertEqual(self.value("held"), "second", "committed in the order they held the item")

    def test_a_long_polling_queue_receive_holds_up_no_dynamodb_call(self) -> None:
        def sqs(operation: str, body: dict[str, Any]) -> dict[str, Any]:
            status, raw = self.call(f"AmazonSQS.{operation}", "sqs", body)
            self.assertEqual(status, 200, raw)
            answer: dict[str, Any] = json.loads(raw)
            return answer

        queue = sqs("CreateQueue", {"QueueName": "events"})["QueueUrl"]
        receiving = threading.Thread(
            target=lambda: sqs("ReceiveMessage", {"QueueUrl": queue, "WaitTimeSeconds": 2}), daemon=True
        )
        receiving.start()
        time.sleep(0.2)
        self.assertTrue(receiving.is_alive(), "still waiting for a message")
        started = time.monotonic()
        self.assertEqual(self.value("free"), "old")
        self.assertLess(time.monotonic() - started, 1, "served while the receive waits")
        receiving.join()

    def test_eventbridge_calls_are_served_one_at_a_time(self) -> None:
        """A PutRule waits while a PutEvents walks the bus's rules (moto
        walks them unlocked: a rule added meanwhile was a 500, retried, and
        the event delivered twice); DynamoDB calls do not wait."""
        from moto.events.models import events_backends

        def events(operation: str, body: dict[str, Any]) -> tuple[int, bytes]:
            return self.call(f"{contention.EVENTS_PREFIX}{operation}", "events", body, json_version="1.1")

        pattern = json.dumps({"source": ["test"]})
        # Two rules: a rule added while the walk is at the first is a 500.
        for name in ("first", "then"):
            self.assertEqual(events("PutRule", {"Name": name, "EventPattern": pattern})[0], 200)
        rule = events_backends["123456789012"]["us-east-1"].event_buses["default"].rules["first"]
        delivering, delivered = threading.Event(), threading.Event()
        send_to_targets = rule.send_to_targets

        def paused(*args: Any, **kwargs: Any) -> None:
            delivering.set()
            delivered.wait(5)
            send_to_targets(*args, **kwargs)

        rule.send_to_targets = paused  # type: ignore[method-assign]
        answers: dict[str, tuple[int, bytes]] = {}
        entry = {"Source": "test", "DetailType": "t", "Detail": "{}"}
        putting = threading.Thread(target=lambda: answers.update(events=events("PutEvents", {"Entries": [entry]})))
        putting.start()
        self.assertTrue(delivering.wait(5), "the PutEvents never reached the rule")
        adding = threading.Thread(
            target=lambda: answers.update(rule=events("PutRule", {"Name": "second", "EventPattern": pattern}))
        )
        try:
            adding.start()
            adding.join(0.3)
            self.assertTrue(adding.is_alive(), "the PutRule was served while a PutEvents walked the rules")
            started = time.monotonic()
            self.assertEqual(self.value("free"), "old")
            self.assertLess(time.monotonic() - started, 1, "a DynamoDB call waited for EventBridge")
        finally:
            delivered.set()
            putting.join(5)
            adding.join(5)
        self.assertEqual(answers["events"][0], 200, answers["events"])
        self.assertEqual(json.loads(answers["events"][1])["FailedEntryCount"], 0)
        self.assertEqual(answers["rule"][0], 200, answers["rule"])


if __name__ == "__main__":
    unittest.main()
