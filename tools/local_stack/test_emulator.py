"""The emulator charges what DynamoDB would: item sizes by DynamoDB's rules,
reads in 4 KB units of a request's summed item sizes, writes in 1 KB units
of each item's larger image, transactions doubled. Its streams show what
DynamoDB's would: committed writes only, one record per item changed.
Run by `make test`."""

from __future__ import annotations

import base64
import json
import time
import unittest
import zlib
from copy import deepcopy as deep_copy
from typing import Any

from werkzeug.test import Client

from tools.local_stack import emulator

# The table both emulator suites use: string keys pk and sk.
TABLE: dict[str, Any] = {
    "TableName": "t",
    "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
}
AUTH = "AWS4-HMAC-SHA256 Credential=test/20261126/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"


class Capacity(unittest.TestCase):
    def setUp(self) -> None:
        from moto.dynamodb.models import dynamodb_backends

        dynamodb_backends.reset()
        self.client = Client(emulator.application())
        self.call("CreateTable", TABLE)

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(
            "/",
            data=json.dumps(body),
            headers={
                "X-Amz-Target": f"DynamoDB_20120810.{operation}",
                "Authorization": AUTH,
                "Content-Type": "application/x-amz-json-1.0",
            },
        )
        payload = response.get_data()
        self.assertEqual(response.status_code, 200, payload)
        if "x-amz-crc32" in response.headers:
            self.assertEqual(int(response.headers["x-amz-crc32"]), zlib.crc32(payload))
        answer: dict[str, Any] = json.loads(payload)
        return answer

    @staticmethod
    def item(sk: str, padding: int) -> dict[str, Any]:
        # pk (2 + 1) + sk (2 + len) + pad (3 + padding) bytes
        return {"pk": {"S": "p"}, "sk": {"S": sk}, "pad": {"S": "x" * padding}}

    def put(self, sk: str, size: int) -> None:
        padding = size - (3 + 2 + len(sk) + 3)
        self.call("PutItem", {"TableName": "t", "Item": self.item(sk, padding)})

    def test_item_sizes_follow_dynamodbs_rules(self) -> None:
        self.assertEqual(emulator.item_size({"name": {"S": "héllo"}}), 4 + 6)
        self.assertEqual(emulator.item_size({"b": {"B": base64.b64encode(b"\0" * 100).decode()}}), 1 + 100)
        self.assertEqual(emulator.item_size({"n": {"N": "12345"}}), 1 + 4)
        self.assertEqual(emulator.item_size({"f": {"BOOL": True}}), 2)

    def test_a_consistent_read_costs_one_unit_per_started_4_kb(self) -> None:
        self.put("big", 5000)
        got = self.call(
            "GetItem",
            {
                "TableName": "t",
                "Key": {"pk": {"S": "p"}, "sk": {"S": "big"}},
                "ConsistentRead": True,
                "ReturnConsumedCapacity": "TOTAL",
                "ProjectionExpression": "sk",
            },
        )
        self.assertEqual(got["ConsumedCapacity"]["CapacityUnits"], 2.0, "the whole item, not the projection")
        missing = self.call(
            "GetItem",
            {"TableName": "t", "Key": {"pk": {"S": "p"}, "sk": {"S": "none"}}, "ReturnConsumedCapacity": "TOTAL"},
        )
        self.assertEqual(missing["ConsumedCapacity"]["CapacityUnits"], 0.5, "a miss still costs the minimum")

    def test_a_query_costs_the_sum_of_the_items_it_reads(self) -> None:
        for i in range(10):
            self.put(f"TAG#{i:02}", 1000)
        self.put("VALUE", 50_000)
        request = {
            "TableName": "t",
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":p": {"S": "p"}, ":s": {"S": "TAG#"}},
            "ConsistentRead": True,
            "ReturnConsumedCapacity": "TOTAL",
        }
        everything = self.call("Query", request)
        self.assertEqual(everything["ConsumedCapacity"]["CapacityUnits"], 3.0, "10,000 bytes: 3 units")
        projected = self.call(
            "Query", {**request, "ProjectionExpression": "#s", "ExpressionAttributeNames": {"#s": "sk"}}
        )
        self.assertEqual(projected["ConsumedCapacity"]["CapacityUnits"], 3.0, "projection saves nothing")
        counted = self.call("Query", {**request, "Select": "COUNT", "Limit": 4})
        self.assertEqual(counted["Count"], 4)
        self.assertEqual(counted["ConsumedCapacity"]["CapacityUnits"], 1.0, "4,000 bytes: 1 unit")

    def test_transactions_pay_twice_for_the_larger_image_of_each_item(self) -> None:
        self.put("grows", 900)
        put = {"Put": {"TableName": "t", "Item": self.item("new", 1500)}}
        update = {
            "Update": {
                "TableName": "t",
                "Key": {"pk": {"S": "p"}, "sk": {"S": "grows"}},
                "UpdateExpression": "SET extra = :e",
                "ExpressionAttributeValues": {":e": {"S": "y" * 300}},
            }
        }
        done = self.call("TransactWriteItems", {"TransactItems": [put, update], "ReturnConsumedCapacity": "TOTAL"})
        # put: 1.5 KB -> 2 units; update: 900 -> ~1.2 KB -> 2 units; doubled.
        self.assertEqual(
            done["ConsumedCapacity"], [{"TableName": "t", "CapacityUnits": 8.0, "WriteCapacityUnits": 8.0}]
        )

    def test_a_put_pays_once_for_the_larger_image(self) -> None:
        self.put("replaced", 2500)
        request = {"TableName": "t", "Item": self.item("replaced", 100), "ReturnConsumedCapacity": "TOTAL"}
        done = self.call("PutItem", request)
        self.assertEqual(done["ConsumedCapacity"], {"TableName": "t", "CapacityUnits": 3.0, "WriteCapacityUnits": 3.0})

    def test_nothing_is_added_when_not_asked(self) -> None:
        self.put("plain", 100)
        got = self.call("GetItem", {"TableName": "t", "Key": {"pk": {"S": "p"}, "sk": {"S": "plain"}}})
        self.assertNotIn("ConsumedCapacity", got)

    def test_paging_through_a_partition_visits_each_item_once(self) -> None:
        for i in range(30):
            self.put(f"row-{i:02}", 50)
        self.call("PutItem", {"TableName": "t", "Item": {"pk": {"S": "other"}, "sk": {"S": "row-05x"}}})
        seen, counted, start = [], 0, None
        while True:
            request = {
                "TableName": "t",
                "KeyConditionExpression": "pk = :p",
                "Limit": 7,
                "ExpressionAttributeValues": {":p": {"S": "p"}},
            }
            if start:
                request["ExclusiveStartKey"] = start
            page = self.call("Query", request)
            counted += self.call("Query", {**request, "Select": "COUNT"})["Count"]
            seen += [item["sk"]["S"] for item in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        self.assertEqual(seen, [f"row-{i:02}" for i in range(30)])
        self.assertEqual(counted, 30)

    def test_a_prefix_query_finds_exactly_its_keys(self) -> None:
        for sk in ("COUNT#000", "COUNT#001", "COUNT", "COUNTER", "TAG#a", "TAG#b", "A"):
            self.put(sk, 20)
        query = {
            "TableName": "t",
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":p": {"S": "p"}, ":s": {"S": "COUNT#"}},
        }
        found = [item["sk"]["S"] for item in self.call("Query", query)["Items"]]
        self.assertEqual(found, ["COUNT#000", "COUNT#001"])
        after = self.call("Query", {**query, "ExclusiveStartKey": {"pk": {"S": "p"}, "sk": {"S": "COUNT#000"}}})
        self.assertEqual([item["sk"]["S"] for item in after["Items"]], ["COUNT#001"])
        backwards = self.call("Query", {**query, "ScanIndexForward": False, "Limit": 1})
        self.assertEqual([item["sk"]["S"] for item in backwards["Items"]], ["COUNT#001"])

    def test_binary_values_survive_being_queried_and_counted(self) -> None:
        value = base64.b64encode(bytes(range(256))).decode()
        self.call("PutItem", {"TableName": "t", "Item": {"pk": {"S": "p"}, "sk": {"S": "b"}, "v": {"B": value}}})
        query = {
            "TableName": "t",
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "p"}},
            "ReturnConsumedCapacity": "TOTAL",
        }
        for request in [query, {**query, "Select": "COUNT"}, query, {**query, "Select": "COUNT"}]:
            self.call("Query", request)
        got = self.call("GetItem", {"TableName": "t", "Key": {"pk": {"S": "p"}, "sk": {"S": "b"}}})
        self.assertEqual(got["Item"]["v"]["B"], value)

    def test_a_cancelled_transaction_leaves_nothing_of_itself(self) -> None:
        from moto.dynamodb.models import dynamodb_backends

        self.put("kept", 100)
        self.put("taken", 100)
        table = dynamodb_backends["123456789012"]["us-east-1"].tables["t"]
        cancelled = self.client.post(
            "/",
            data=json.dumps(
                {
                    "TransactItems": [
                        {"Put": {"TableName": "t", "Item": self.item("new", 10)}},
                        {
                            "Update": {
                                "TableName": "t",
                                "Key": {"pk": {"S": "p"}, "sk": {"S": "kept"}},
                                "UpdateExpression": "SET #p = :v",
                                "ExpressionAttributeNames": {"#p": "pad"},
                                "ExpressionAttributeValues": {":v": {"S": "changed"}},
                            }
                        },
                        {
                            "Put": {
                                "TableName": "t",
                                "Item": self.item("taken", 10),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                    ]
                }
            ),
            headers={
                "X-Amz-Target": "DynamoDB_20120810.TransactWriteItems",
                "Authorization": AUTH,
                "Content-Type": "application/x-amz-json-1.0",
            },
        )
        self.assertEqual(cancelled.status_code, 400, cancelled.get_data())
        self.assertIn(b"TransactionCanceledException", cancelled.get_data())
        items = self.call(
            "Query",
            {"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}},
        )["Items"]
        self.assertEqual([item["sk"]["S"] for item in items], ["kept", "taken"])
        self.assertTrue(all(len(item["pad"]["S"]) > 10 for item in items), items)
        # Rolled back item by item, not by swapping in a copy of the table.
        self.assertIs(dynamodb_backends["123456789012"]["us-east-1"].tables["t"], table)


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class Streams(unittest.TestCase):
    """Two tables with streams, `t` and `u`: what a reader of each stream
    (the local stand-in for Lambda's event source mapping) gets."""

    def setUp(self) -> None:
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        dynamodb_backends.reset()
        dynamodbstreams_backends.reset()
        self.client = Client(emulator.application())
        self.streams = {}
        for name in ("t", "u"):
            stream = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
            created = self.call("CreateTable", {**TABLE, "TableName": name, "StreamSpecification": stream})
            self.streams[name] = created["TableDescription"]["LatestStreamArn"]
        self.call("PutItem", {"TableName": "t", "Item": {**key("p", "kept"), "v": {"S": "1"}}})
        self.call("PutItem", {"TableName": "u", "Item": {**key("p", "gone"), "v": {"S": "1"}}})

    def post(self, target: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = self.client.post(
            "/",
            data=json.dumps(body),
            headers={"X-Amz-Target": target, "Authorization": AUTH, "Content-Type": "application/x-amz-json-1.0"},
        )
        answer: dict[str, Any] = json.loads(response.get_data())
        return response.status_code, answer

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = self.post(f"DynamoDB_20120810.{operation}", body)
        self.assertEqual(status, 200, answer)
        return answer

    def stream_call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = self.post(f"DynamoDBStreams_20120810.{operation}", body)
        self.assertEqual(status, 200, answer)
        return answer

    def iterator(self, table: str, kind: str = "TRIM_HORIZON", sequence: str | None = None) -> str:
        arn = self.streams[table]
        (shard,) = self.stream_call("DescribeStream", {"StreamArn": arn})["StreamDescription"]["Shards"]
        request = {"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": kind}
        if sequence is not None:
            request["SequenceNumber"] = sequence
        iterator: str = self.stream_call("GetShardIterator", request)["ShardIterator"]
        return iterator

    def records(self, table: str) -> list[dict[str, Any]]:
        """Every record of the table's stream, oldest first."""
        found: list[dict[str, Any]] = self.stream_call("GetRecords", {"ShardIterator": self.iterator(table)})["Records"]
        return found

    def changes(self, table: str) -> list[tuple[str, str, dict[str, Any] | None]]:
        """(eventName, sk, NewImage) of each record after the setUp's."""
        return [
            (record["eventName"], record["dynamodb"]["Keys"]["sk"]["S"], record["dynamodb"].get("NewImage"))
            for record in self.records(table)[1:]
        ]

    def transact(self, items: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        return self.post("DynamoDB_20120810.TransactWriteItems", {"TransactItems": items})

    def test_a_committed_transaction_shows_one_record_per_item_it_wrote(self) -> None:
        status, answer = self.transact(
            [
                {"Put": {"TableName": "t", "Item": {**key("p", "new"), "v": {"S": "1"}}}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": key("p", "kept"),
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "2"}},
                    }
                },
                # Creates its item: moto writes its key, then the update.
                {
                    "Update": {
                        "TableName": "t",
                        "Key": key("p", "made"),
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "3"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "t",
                        "Key": key("p", "none"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Delete": {"TableName": "u", "Key": key("p", "gone")}},
            ]
        )
        self.assertEqual(status, 200, answer)
        self.assertEqual(
            self.changes("t"),
            [
                ("INSERT", "new", {**key("p", "new"), "v": {"S": "1"}}),
                ("MODIFY", "kept", {**key("p", "kept"), "v": {"S": "2"}}),
                ("INSERT", "made", {**key("p", "made"), "v": {"S": "3"}}),
            ],
        )
        self.assertEqual(self.changes("u"), [("REMOVE", "gone", None)])
        # Sequence numbers are the records' positions: a reader resuming
        # after any record gets exactly the ones after it.
        records = self.records("t")
        for index, record in enumerate(records):
            after = self.iterator("t", "AFTER_SEQUENCE_NUMBER", record["dynamodb"]["SequenceNumber"])
            rest = self.stream_call("GetRecords", {"ShardIterator": after})["Records"]
            self.assertEqual(rest, records[index + 1 :])

    def test_a_cancelled_transaction_leaves_no_record_on_any_table(self) -> None:
        before = {table: self.records(table) for table in ("t", "u")}
        # The first item's condition fails; moto still applies the valid
        # ones after it (a Put to the other table among them), then rolls back.
        status, answer = self.transact(
            [
                {
                    "Put": {
                        "TableName": "t",
                        "Item": {**key("p", "kept"), "v": {"S": "never"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"TableName": "u", "Item": {**key("p", "never"), "v": {"S": "never"}}}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": key("p", "also-never"),
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "never"}},
                    }
                },
            ]
        )
        self.assertEqual(status, 400, answer)
        self.assertIn("TransactionCanceledException", answer["__type"])
        # Refused outright (the same item twice), after moto applied the first.
        status, answer = self.transact(
            [
                {"Put": {"TableName": "u", "Item": {**key("p", "twice"), "v": {"S": "never"}}}},
                {"Put": {"TableName": "u", "Item": {**key("p", "twice"), "v": {"S": "never"}}}},
            ]
        )
        self.assertEqual(status, 400, answer)
        self.assertIn("ValidationException", answer["__type"])
        self.assertEqual({table: self.records(table) for table in ("t", "u")}, before)
        # The next committed write is read as the next record.
        last = before["u"][-1]["dynamodb"]["SequenceNumber"]
        after = self.iterator("u", "AFTER_SEQUENCE_NUMBER", last)
        self.call("PutItem", {"TableName": "u", "Item": key("p", "next")})
        (record,) = self.stream_call("GetRecords", {"ShardIterator": after})["Records"]
        self.assertEqual(record["dynamodb"]["Keys"], key("p", "next"))
        self.assertEqual(int(record["dynamodb"]["SequenceNumber"]), int(last) + 1)
        got = self.call("GetItem", {"TableName": "t", "Key": key("p", "kept")})["Item"]
        self.assertEqual(got["v"], {"S": "1"})

    def test_a_write_that_changes_nothing_writes_no_record(self) -> None:
        self.call("PutItem", {"TableName": "t", "Item": {**key("p", "kept"), "v": {"S": "1"}}})
        self.call(
            "UpdateItem",
            {
                "TableName": "t",
                "Key": key("p", "kept"),
                "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": {"S": "1"}},
            },
        )
        self.call("DeleteItem", {"TableName": "t", "Key": key("p", "absent")})
        self.assertEqual(self.changes("t"), [])
        self.call(
            "UpdateItem",
            {
                "TableName": "t",
                "Key": key("p", "created"),
                "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": {"S": "1"}},
            },
        )
        self.assertEqual(self.changes("t"), [("INSERT", "created", {**key("p", "created"), "v": {"S": "1"}})])

    def both_images(self) -> None:
        """Creates a table `w` whose stream shows both images."""
        stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        created = self.call("CreateTable", {**TABLE, "TableName": "w", "StreamSpecification": stream})
        self.streams["w"] = created["TableDescription"]["LatestStreamArn"]

    def images(self, table: str) -> list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]]:
        """(eventName, sk, OldImage, NewImage) of each record of the table's stream."""
        return [
            (
                record["eventName"],
                record["dynamodb"]["Keys"]["sk"]["S"],
                record["dynamodb"].get("OldImage"),
                record["dynamodb"].get("NewImage"),
            )
            for record in self.records(table)
        ]

    def update(self, table: str, sk: str, value: str) -> None:
        self.call(
            "UpdateItem",
            {
                "TableName": table,
                "Key": key("p", sk),
                "UpdateExpression": "SET v = :v",
                "ExpressionAttributeValues": {":v": {"S": value}},
            },
        )

    def test_an_update_that_creates_its_item_is_an_insert_with_no_old_image(self) -> None:
        self.both_images()
        self.update("w", "made", "1")
        self.update("w", "made", "2")
        status, answer = self.transact(
            [
                {
                    "Update": {
                        "TableName": "w",
                        "Key": key("p", "also"),
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "1"}},
                    }
                }
            ]
        )
        self.assertEqual(status, 200, answer)
        made = {**key("p", "made"), "v": {"S": "1"}}
        self.assertEqual(
            self.images("w"),
            [
                ("INSERT", "made", None, made),
                ("MODIFY", "made", made, {**made, "v": {"S": "2"}}),
                ("INSERT", "also", None, {**key("p", "also"), "v": {"S": "1"}}),
            ],
        )
        numbers = [int(record["dynamodb"]["SequenceNumber"]) for record in self.records("w")]
        self.assertEqual(numbers, list(range(numbers[0], numbers[0] + 3)))

    def test_an_update_that_creates_its_item_is_an_insert_whatever_moto_names_it(self) -> None:
        """As a moto that compares the update with the key it has just put
        would write it: a MODIFY whose old image is the key."""
        from moto.dynamodb.models import dynamodb_backends

        self.both_images()
        shard = dynamodb_backends["123456789012"]["us-east-1"].tables["w"].stream_shard
        if shard is None:
            self.fail("no stream on w")
        add = shard.add
        put: list[Any] = []

        def comparing_with_the_put(old: Any, new: Any) -> None:
            if old is None and put:
                old = put.pop()
            elif old is None:
                put.append(deep_copy(new))
            add(old, new)

        shard.add = comparing_with_the_put  # type: ignore[method-assign]
        self.update("w", "made", "1")
        self.update("w", "made", "2")
        made = {**key("p", "made"), "v": {"S": "1"}}
        self.assertEqual(
            self.images("w"),
            [("INSERT", "made", None, made), ("MODIFY", "made", made, {**made, "v": {"S": "2"}})],
        )

    def test_shard_iterators_expire_after_15_minutes(self) -> None:
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        old = self.iterator("t")
        backend = dynamodbstreams_backends["123456789012"]["us-east-1"]
        backend.shard_iterators[old].handed_out = time.monotonic() - emulator.ITERATOR_LIFETIME_S - 1  # type: ignore[attr-defined]
        status, answer = self.post("DynamoDBStreams_20120810.GetRecords", {"ShardIterator": old})
        self.assertEqual(status, 400, answer)
        self.assertIn("ExpiredIteratorException", answer["__type"])
        self.assertEqual(len(self.records("t")), 1, "a fresh iterator reads on")


class SqsDeletes(unittest.TestCase):
    """A delete takes the lock EventBridge's deliveries add messages under."""

    def test_a_delete_waits_for_a_concurrent_add(self) -> None:
        import threading

        import boto3
        from moto import mock_aws
        from moto.sqs.models import sqs_backends

        emulator.patch_moto()
        with mock_aws():
            sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
            url = sqs.create_queue(QueueName="q")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody="one")
            handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
            queue = sqs_backends["123456789012"]["us-east-1"].queues["q"]
            deleted = threading.Event()

            def delete() -> None:
                queue.delete_message(handle)
                deleted.set()

            with queue._messages_lock:  # as an add holds it
                worker = threading.Thread(target=delete)
                worker.start()
                self.assertFalse(deleted.wait(0.2), "the delete ran while an add held the lock")
            worker.join(5)
            self.assertTrue(deleted.is_set())


if __name__ == "__main__":
    unittest.main()
