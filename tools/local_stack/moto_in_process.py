"""The emulator (emulator.py: moto's server, made faithful) served from a
thread of the test process, for the tests of what talks to it over HTTP
through boto3, as the stack does (bootstrap, the change stream, the event
log). Each one starts with moto's state emptied."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tools.local_stack import emulator
from tools.local_stack.processes import HOST


class Quiet(WSGIRequestHandler):
    def log(self, *_: Any) -> None:
        pass


class MotoInProcess:
    def __init__(self) -> None:
        from moto.core.base_backend import BackendDict
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodbstreams.models import dynamodbstreams_backends
        from moto.events.models import events_backends
        from moto.kms.models import kms_backends
        from moto.sqs.models import sqs_backends

        backends: list[BackendDict[Any]] = [
            dynamodb_backends,
            dynamodbstreams_backends,
            events_backends,
            kms_backends,
            sqs_backends,
        ]
        for backend in backends:
            backend.reset()
        # No transaction hold: these tests are about what is written, not when.
        self.server: BaseWSGIServer = make_server(
            HOST, 0, emulator.application(0), threaded=True, request_handler=Quiet
        )
        self.port = self.server.server_port
        self.endpoint = f"http://{HOST}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="moto", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def client(self, service: str) -> Any:
        import boto3

        session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
        )
        return session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]
