"""What the local stack shows of the change events: the local rule's queue
drained, each event one line of JSON. Run by `make test`."""

from __future__ import annotations

import io
import json
import tempfile
import time
import unittest
from pathlib import Path
from unittest import mock

from tools.local_stack import devstack
from tools.local_stack.event_log import EventLog, one_line
from tools.local_stack.moto_in_process import MotoInProcess


class Drained(unittest.TestCase):
    def setUp(self) -> None:
        self.moto = MotoInProcess()
        self.addCleanup(self.moto.stop)
        with mock.patch.object(devstack, "log"):
            devstack.bootstrap(self.moto.port)
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.path = Path(directory.name) / "events.log"
        self.path.write_text("from an earlier run\n")
        self.console = io.StringIO()
        self.shown = EventLog(self.moto.endpoint, devstack.REGION, devstack.CHANGES_LOCAL, self.path, self.console)
        self.shown.start()
        self.addCleanup(self.shown.stop)

    def test_each_event_of_the_service_is_shown_once_as_one_line(self) -> None:
        events = self.moto.client("events")
        detail = {"tenant": "acme", "id": "se01", "operation": "created", "valueVersion": 1}
        events.put_events(
            Entries=[
                {"Source": "cortex.secrets", "DetailType": "Secret Changed", "Detail": json.dumps(detail)},
                {"Source": "someone.else", "DetailType": "Other", "Detail": "{}"},
            ]
        )
        deadline = time.monotonic() + 10
        while not self.console.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.shown.stop()
        (line,) = self.console.getvalue().splitlines()
        self.assertTrue(line.startswith("event {"), line)
        event = json.loads(line.removeprefix("event "))
        self.assertEqual(
            (event["source"], event["detail-type"], event["detail"]), ("cortex.secrets", "Secret Changed", detail)
        )
        self.assertEqual(self.path.read_text().splitlines(), [line.removeprefix("event ")], "the file: this run's only")
        queue = self.moto.client("sqs").get_queue_url(QueueName=devstack.CHANGES_LOCAL)["QueueUrl"]
        attributes = self.moto.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        self.assertEqual(
            (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]),
            ("0", "0"),
            "deleted once shown",
        )


class Lines(unittest.TestCase):
    def test_a_body_that_is_not_json_is_still_one_line_of_json(self) -> None:
        self.assertEqual(one_line('{"a": 1,\n "b": [2]}'), '{"a":1,"b":[2]}')
        self.assertEqual(one_line("not\njson"), '"not\\njson"')


if __name__ == "__main__":
    unittest.main()
