"""The Lambda Runtime API, as much of it as a function uses, in front of one
function process (Lambda gives each execution environment its own):

    GET  /2018-06-01/runtime/invocation/next          the next event; blocks until one is queued
    POST /2018-06-01/runtime/invocation/{id}/response the invocation's payload
    POST /2018-06-01/runtime/invocation/{id}/error    its error instead
    POST /2018-06-01/runtime/init/error               the function could not start

It notes when each `next` poll arrives: the first one is a function that
started. bench/driver/src/runtime_api.rs is the Rust one of the bench.

Where it differs from Lambda: no timeout is enforced (the caller decides how
long to wait, see `Invocation.wait`), an init error is recorded but the
process is not stopped for it, and there is no response streaming, X-Ray
daemon, extensions or telemetry API.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tools.local_stack.processes import HOST

PREFIX = "/2018-06-01/runtime"
NEXT = f"{PREFIX}/invocation/next"
INVOCATION = f"{PREFIX}/invocation/"
INIT_ERROR = f"{PREFIX}/init/error"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


@dataclass(frozen=True)
class Outcome:
    """What the function posted for an invocation: `error` tells which of
    the two endpoints; `error_type` is the error's header, if any."""

    payload: bytes
    error: bool = False
    error_type: str | None = None


@dataclass
class Invocation:
    request_id: str
    event: bytes
    deadline_ms: int
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None

    def wait(self, timeout_s: float) -> Outcome | None:
        """The outcome, or None if none was posted within `timeout_s`."""
        self.done.wait(timeout_s)
        return self.outcome


class RuntimeApi:
    """One function's Runtime API on a port of its own (bound to port 0, so
    the kernel picks a free one without a race)."""

    def __init__(self, function_arn: str, timeout_s: float, host: str = HOST) -> None:
        self.function_arn = function_arn
        self.timeout_s = timeout_s
        self.lock = threading.Condition()
        self.queue: deque[Invocation] = deque()
        self.pending: dict[str, Invocation] = {}
        self.polls: list[float] = []
        self.init_errors: list[Outcome] = []
        self.closing = False
        self.server = ThreadingHTTPServer((host, 0), self._handler())
        # A keep-alive connection's handler waits for the next request until
        # its function closes it: closing must not wait for them.
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="runtime-api", daemon=True)

    @property
    def address(self) -> str:
        """For `AWS_LAMBDA_RUNTIME_API`: host:port, no scheme."""
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Releases the polls still waiting (their function is gone or going),
        then the server. Stop the function first: a poll released here gets
        an error, which a live runtime would report as a failure."""
        with self.lock:
            if self.closing:
                return
            self.closing = True
            self.lock.notify_all()
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def invoke(self, event: bytes) -> Invocation:
        """Queues `event` for the function's next poll."""
        invocation = Invocation(str(uuid.uuid4()), event, int((time.time() + self.timeout_s) * 1000))
        with self.lock:
            self.pending[invocation.request_id] = invocation
            self.queue.append(invocation)
            self.lock.notify_all()
        return invocation

    def wait_for_poll(self, timeout_s: float) -> bool:
        """Whether a `next` poll has arrived, waiting up to `timeout_s`."""
        with self.lock:
            return self.lock.wait_for(lambda: bool(self.polls), timeout_s)

    # --- the server side ----------------------------------------------------

    def _next(self) -> Invocation | None:
        with self.lock:
            self.polls.append(time.monotonic())
            self.lock.notify_all()
            self.lock.wait_for(lambda: bool(self.queue) or self.closing)
            return None if self.closing else self.queue.popleft()

    def _complete(self, request_id: str, outcome: Outcome) -> bool:
        with self.lock:
            invocation = self.pending.pop(request_id, None)
        if invocation is None:
            return False
        invocation.outcome = outcome
        invocation.done.set()
        return True

    def _init_error(self, outcome: Outcome) -> None:
        with self.lock:
            self.init_errors.append(outcome)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as Lambda's runtime endpoint allows: the runtime
            # client reuses its connection between polls.
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
                pass  # a line per poll would drown the functions' own output

            def do_GET(self) -> None:
                self.read_body()
                if self.path != NEXT:
                    self.reply(404, {"errorType": "InvalidRoute", "errorMessage": self.path})
                    return
                invocation = api._next()
                if invocation is None:
                    self.reply(410, {"errorType": "ShuttingDown", "errorMessage": "the runtime API is stopping"})
                    return
                trace = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"
                headers = {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                    "Lambda-Runtime-Trace-Id": trace,
                }
                self.send(200, invocation.event, headers)

            def do_POST(self) -> None:
                body = self.read_body()
                error_type = self.headers.get(ERROR_TYPE_HEADER)
                if self.path == INIT_ERROR:
                    api._init_error(Outcome(body, error=True, error_type=error_type))
                    self.reply(202, {"status": "OK"})
                    return
                request_id, _, kind = self.path.removeprefix(INVOCATION).partition("/")
                if not self.path.startswith(INVOCATION) or kind not in ("response", "error"):
                    self.reply(404, {"errorType": "InvalidRoute", "errorMessage": self.path})
                    return
                outcome = Outcome(body, error=kind == "error", error_type=error_type)
                if api._complete(request_id, outcome):
                    self.reply(202, {"status": "OK"})
                else:
                    # Unknown, or already answered: Lambda refuses both.
                    self.reply(400, {"errorType": "InvalidRequestID", "errorMessage": "no such invocation pending"})

            def read_body(self) -> bytes:
                # Every body is read, or the next request on this
                # connection would start inside it.
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    return self.read_chunked()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def read_chunked(self) -> bytes:
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline().strip():  # trailers, up to the blank line
                    pass
                return b"".join(chunks)

            def reply(self, status: int, document: dict[str, str]) -> None:
                self.send(status, json.dumps(document).encode(), {})

            def send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                # A function stopped while its poll was open has gone: there
                # is no one to tell.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)

        return Handler
