"""Lambda's Invoke API for the functions the harness started, as much of it
as a function of ours calls: the update function's restore invokes the
reseal function (AWS_ENDPOINT_URL_LAMBDA points here).

    POST /2015-03-31/functions/{FunctionName}/invocations   RequestResponse

As Lambda answers it: the function is named by its name or its ARN (this
region's and account's), unqualified or qualified by its one alias or
version; a payload is a 200 with `X-Amz-Executed-Version`; a function error
is a 200 too, with `X-Amz-Function-Error: Unhandled` and the error document;
a function, alias or ARN nobody started is a 404
`ResourceNotFoundException`, a payload that is not JSON a 400
`InvalidRequestContentException`. Where it differs from Lambda: the
request's SigV4 signature and the caller's permission are not checked (the
template check does the permission: only the update role may invoke it),
and a function that crashes or times out is reported to the harness besides
(`failures`), so a run names it rather than only the 500 its caller
answers.

It also stands in for a service no function may call in the scenario
(AWS_ENDPOINT_URL_EVENTBRIDGE points here: the publish function is handed
no change, so it must publish nothing): a request that is no invocation
is answered 400 and recorded (`strays`, by its X-Amz-Target), for the
harness to fail the run on.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tools.artifacts.functions import Function, FunctionFailed
from tools.artifacts.runtime_api import Outcome
from tools.local_stack.processes import HOST

PREFIX = "/2015-03-31/functions/"
SUFFIX = "/invocations"


@dataclass(frozen=True)
class Named:
    """A function as an invocations path names it."""

    name: str
    qualifier: str | None
    # (region, account) of an ARN.
    place: tuple[str, str] | None


def function_named(path: str) -> Named | None:
    """The function an invocations path names, or None."""
    if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
        return None
    named = urllib.parse.unquote(path[len(PREFIX) : -len(SUFFIX)])
    if named.startswith("arn:"):
        # arn:aws:lambda:region:account:function:name[:qualifier]
        parts = named.split(":")
        if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function" or not parts[6]:
            return None
        return Named(parts[6], parts[7] if len(parts) == 8 else None, (parts[3], parts[4]))
    name, _, qualifier = named.partition(":")
    return Named(name, qualifier or None, None) if name else None


class LambdaApi:
    """The Invoke API of `functions` (by the name Lambda gave each) in
    `place` (region, account), both set once they are started, each with
    one alias and one version, on a port the kernel picks; `invoked` holds
    the logical id of each function invoked."""

    def __init__(self, alias: str, version: str) -> None:
        self.qualifiers = {None, alias, version, "$LATEST"}
        self.place: tuple[str, str] | None = None
        self.functions: dict[str, Function] = {}
        self.invoked: set[str] = set()
        self.failures: list[FunctionFailed] = []
        # Requests that were no invocation: "<X-Amz-Target or method path>".
        self.strays: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((HOST, 0), self._handler())
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="lambda-api", daemon=True)

    @property
    def endpoint(self) -> str:
        """For `AWS_ENDPOINT_URL_LAMBDA`."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def invoke(self, named: Named | None, event: bytes) -> tuple[int, bytes, dict[str, str]]:
        """Status, body and headers, as Lambda answers an invoke."""
        function = self.functions.get(named.name) if named else None
        if (
            named is None
            or function is None
            or named.qualifier not in self.qualifiers
            or named.place not in (None, self.place)
        ):
            return refused(404, "ResourceNotFoundException", "Function not found")
        try:
            payload = json.loads(event or b"{}")
        except ValueError:
            return refused(400, "InvalidRequestContentException", "Could not parse request body into json")
        with self.lock:
            self.invoked.add(function.logical_id)
        try:
            outcome = function.outcome(payload)
        except FunctionFailed as failure:
            with self.lock:
                self.failures.append(failure)
            outcome = Outcome(json.dumps({"errorType": "Runtime.ExitError"}).encode(), error=True)
        headers = {"X-Amz-Executed-Version": "1"}
        if outcome.error:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return 200, outcome.payload, headers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
                pass

            def do_POST(self) -> None:
                event = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urllib.parse.urlsplit(self.path).path
                if path.startswith(PREFIX):
                    status, body, headers = api.invoke(function_named(path), event)
                else:
                    with api.lock:
                        api.strays.append(self.headers.get("X-Amz-Target") or f"POST {path}")
                    status, body, headers = refused(400, "UnexpectedCall", "no function may call this here")
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for header, value in headers.items():
                        self.send_header(header, value)
                    self.end_headers()
                    self.wfile.write(body)

        return Handler


def refused(status: int, error_type: str, message: str) -> tuple[int, bytes, dict[str, str]]:
    body = {"Type": "User", "message": message}
    return status, json.dumps(body).encode(), {"X-Amzn-ErrorType": error_type}
