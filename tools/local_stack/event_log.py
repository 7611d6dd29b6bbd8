"""What the local stack shows of the change events the functions publish:
bootstrap (devstack.py) puts a rule on moto's default event bus taking every
event of the service into a queue; `EventLog` drains that queue, writing each
event as one line of JSON to a file (and, under `make run`, to the console,
prefixed `event `), then deleting it from the queue.

The queue is the stack's own: a consumer's rule and queue (the end-to-end
suite makes its own) get the same events.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import TextIO

from tools.local_stack.processes import log

WAIT_S = 1  # long polling: a stop() is seen within about this


def one_line(body: str) -> str:
    """An event (an SQS message's body) as one line of JSON; a body that is
    not JSON, as a JSON string."""
    try:
        return json.dumps(json.loads(body), separators=(",", ":"))
    except ValueError:
        return json.dumps(body)


class EventLog:
    """The drainer, in a thread of the stack's process: start() and stop()."""

    def __init__(self, endpoint: str, region: str, queue: str, path: Path, console: TextIO | None = sys.stdout) -> None:
        import boto3  # from the venv, installed with moto

        session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=region)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.queue = queue
        self.queue_url = ""
        self.path = path
        self.console = console
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="event-log", daemon=True)

    def start(self) -> None:
        """Finds the queue (a missing one fails here, not in the thread),
        starts the file afresh, then drains the queue until stop()."""
        self.queue_url = self.sqs.get_queue_url(QueueName=self.queue)["QueueUrl"]
        self.path.write_text("")
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=WAIT_S + 5)

    def run(self) -> None:
        problem = ""
        while not self.stopping.is_set():
            try:
                self.drain()
                problem = ""
            except Exception as error:  # whatever it is, the stack goes on: logged once until it changes
                if repr(error) != problem:
                    problem = repr(error)
                    log(f"event log: reading queue {self.queue} failed, retrying: {problem}")
                self.stopping.wait(WAIT_S)

    def drain(self) -> None:
        """One receive: its events written, then deleted from the queue."""
        answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=WAIT_S)
        messages = answer.get("Messages", [])
        if not messages:
            return
        lines = [one_line(message.get("Body", "")) for message in messages]
        with self.path.open("a") as file:
            file.writelines(f"{line}\n" for line in lines)
        if self.console is not None:
            for line in lines:
                print(f"event {line}", file=self.console, flush=True)
        self.sqs.delete_message_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]} for index, message in enumerate(messages)
            ],
        )
