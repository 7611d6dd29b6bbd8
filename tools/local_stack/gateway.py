"""A local stand-in for the parts of API Gateway that `cargo lambda watch`'s
router does not emulate, so that the local stack answers like the deployed
one (template.yaml):

- Unknown routes get the template's MISSING_AUTHENTICATION_TOKEN gateway
  response (a contract-shaped 404), undeclared methods of a route its mock
  405 with an Allow header, bodies over 10 MB its REQUEST_TOO_LARGE
  response (413).
- The API declares every media type binary (`BinaryMediaTypes: */*`), so API
  Gateway hands every body to the function base64-encoded, whatever its
  bytes. The router only does so for non-text content types and fails with a
  500 on a text body that is not UTF-8; such requests are invoked directly
  through the emulator's Lambda Invoke API, as API Gateway would deliver them.
  So are requests with a header value that is not ASCII (obs-text, which
  HTTP allows), on which the router fails the same way: API Gateway hands
  header values to the function as text.

- Routes the template marks `AWS_IAM` (resolve) are checked as API Gateway
  and IAM would check them (tools/local_stack/iam.py: the SigV4 signature,
  and the signer's local policy for the request's method ARN). A request
  that passes is invoked directly as a REST API event with the verified
  principal in `requestContext.identity.userArn`, as the deployed route
  delivers it; one that fails gets the gateway response AWS would give and
  reaches no function.

Everything else is passed to the router unchanged. Routes come from the
router table in Cargo.toml, `AWS_IAM` routes and gateway responses from
template.yaml.

Every request is logged, one JSON object a line: `via` (`gateway`: answered
here, no function reached; `router`: forwarded to the router; `invoke-api`:
invoked directly), `method`, `path`, `function` and `operation` (the
function it went to, if any, and the operation that function serves),
`delivered` (whether the request was sent on to the function's runtime;
false when the router could not be reached), `status` (the status the
router or the function answered; null when none came back, and the shim
answered 502 or 504 itself), `errorType` (a function error's type, for
invocations) and `elapsedMs`. `make test` compares these with the
functions' own metric records.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import re
import threading
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tools import ROOT
from tools.local_stack.events import http_api_event, rest_api_event
from tools.local_stack.iam import LocalIam

MAX_BODY_BYTES = 10 * 1024 * 1024
# An oversized body is read and dropped before the 413, as API Gateway reads
# a request before refusing it; only beyond this is the connection cut.
MAX_DRAINED_BYTES = 64 * 1024 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
ROUTER_TIMEOUT_S = 120
# Functions behind routes the public OpenAPI document does not describe,
# with the operation each serves (the name in its metric records).
INTERNAL_OPERATIONS = {"resolve-secret": "resolveSecret"}
# Gateway responses the template leaves to DEFAULT_4XX, with the status
# API Gateway gives them.
DEFAULT_STATUSES = {"INVALID_SIGNATURE": 403, "EXPIRED_TOKEN": 403}


def load_routes() -> list[tuple[str, re.Pattern[str], dict[str, str]]]:
    """(path, pattern, {method: function}) from the watch router in Cargo.toml."""
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"]
    routes = []
    for path, targets in router.items():
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        routes.append((path, re.compile(f"^{pattern}$"), {t["method"]: t["function"] for t in targets}))
    return routes


def load_operations() -> dict[tuple[str, str], str]:
    """{(route, method): operation}: the operationId the OpenAPI document
    gives each routed path and method, else its function's
    INTERNAL_OPERATIONS (one function may serve two operations: get and
    the versions list)."""
    document = json.loads((ROOT / "openapi" / "cortex-secrets.json").read_text())
    operations = {}
    for path, _, functions in load_routes():
        for method, function in functions.items():
            documented = document["paths"].get(path, {}).get(method.lower(), {}).get("operationId")
            operations[(path, method)] = documented or INTERNAL_OPERATIONS[function]
    return operations


def load_signed_routes() -> set[tuple[str, str]]:
    """(method, path) of every route template.yaml authorizes with AWS_IAM."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text())
    signed = set()
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            properties = event.get("Properties", {})
            if event.get("Type") == "Api" and properties.get("Auth", {}).get("Authorizer") == "AWS_IAM":
                signed.add((properties["Method"].upper(), properties["Path"]))
    return signed


def load_api() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text())
    api: dict[str, Any] = template["Resources"]["SecretsApi"]["Properties"]
    return api


def is_text(content_type: str) -> bool:
    """The router's own test for passing a body as text."""
    return content_type.startswith(("text/", "application/json"))


@dataclass
class Exchange:
    """What the log says of one request."""

    via: str
    method: str
    path: str
    function: str | None = None
    operation: str | None = None
    delivered: bool = False
    status: int | None = None
    error_type: str | None = None

    def log_line(self, elapsed_ms: float) -> str:
        entry = {
            "via": self.via,
            "method": self.method,
            "path": self.path[:200],
            "function": self.function,
            "operation": self.operation,
            "delivered": self.delivered,
            "status": self.status,
            "errorType": self.error_type,
            "elapsedMs": round(elapsed_ms),
        }
        return json.dumps(entry) + "\n"


def function_error(status: int, headers: list[tuple[str, str]], payload: bytes) -> str | None:
    """The errorType of an Invoke API answer that is a function error (the
    X-Amz-Function-Error header, or an error status), else None."""
    flagged = any(name.lower() == "x-amz-function-error" for name, _ in headers)
    if not flagged and status < 400:
        return None
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = None
    error_type = answer.get("errorType") if isinstance(answer, dict) else None
    return str(error_type) if error_type else f"HTTP {status} without an errorType"


class Gateway:
    def __init__(
        self,
        host: str,
        port: int,
        router_port: int,
        log_path: Path | None = None,
        iam: LocalIam | None = None,
    ) -> None:
        self.router = (host, router_port)
        self.log_path = log_path
        self.log_lock = threading.Lock()
        if log_path is not None:
            log_path.write_text("")
        self.routes = load_routes()
        self.operations = load_operations()
        self.signed_routes = load_signed_routes()
        self.iam = iam
        api = load_api()
        self.responses = api["GatewayResponses"]
        self.other_methods = {
            path: methods["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]["responses"]["default"]
            for path, methods in api["DefinitionBody"]["paths"].items()
        }
        self.servers = [self.server_for(host, port, self.handle, "gateway")]
        self.threads = [
            threading.Thread(target=server.serve_forever, name=f"gateway-{index}", daemon=True)
            for index, server in enumerate(self.servers)
        ]

    @staticmethod
    def server_for(
        host: str, port: int, handle: Callable[[BaseHTTPRequestHandler, Exchange], None], via: str
    ) -> ThreadingHTTPServer:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_request(self) -> None:
                handle(self, Exchange(via, self.command, self.path))

            def __getattr__(self, name: str) -> Callable[[], None]:
                # Every method, TRACE and made-up ones included, is routed.
                if name.startswith("do_"):
                    return self.do_request
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        return server

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    # --- one request ----------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler, exchange: Exchange) -> None:
        started = time.monotonic()
        try:
            self.route_request(request, exchange)
        finally:
            self.write_log(exchange.log_line((time.monotonic() - started) * 1000))

    def write_log(self, line: str) -> None:
        if self.log_path is None:
            return
        with self.log_lock, self.log_path.open("a") as log:
            log.write(line)

    def route_request(self, request: BaseHTTPRequestHandler, exchange: Exchange) -> None:
        path, _, query = request.path.partition("?")
        route, function, parameters = self.route(request.command, path)
        if route is None:
            self.drain(request)
            return self.gateway_response(
                request, exchange, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"
            )
        if function is None:
            self.drain(request)
            return self.method_not_allowed(request, exchange, route)
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.drain(request)
            return self.gateway_response(request, exchange, "REQUEST_TOO_LARGE", "Request Too Long")
        body = self.read_body(request, length)
        if len(body) > MAX_BODY_BYTES:
            return self.gateway_response(request, exchange, "REQUEST_TOO_LARGE", "Request Too Long")
        if (request.command, route) in self.signed_routes:
            return self.signed_request(request, exchange, function, route, parameters, body)
        exchange.function, exchange.operation = function, self.operations.get((route, request.command))
        text_body_not_utf8 = body and is_text(request.headers.get("Content-Type", "")) and not valid_utf8(body)
        if text_body_not_utf8 or not all(value.isascii() for value in request.headers.values()):
            exchange.via = "invoke-api"
            event = http_api_event(request.command, path, query, dict(request.headers.items()), parameters, body)
            return self.invoke(request, exchange, function, event)
        exchange.via = "router"
        return self.forward(request, exchange, body)

    def signed_request(
        self,
        request: BaseHTTPRequestHandler,
        exchange: Exchange,
        function: str,
        route: str,
        parameters: dict[str, str],
        body: bytes,
    ) -> None:
        """An AWS_IAM route: API Gateway's signature and policy check first,
        then a REST API event naming the verified principal."""
        if self.iam is None:
            return self.gateway_response(request, exchange, "ACCESS_DENIED", "no local IAM principals are configured")
        headers = dict(request.headers.items())
        verdict = self.iam.decide(request.command, request.path, headers, body, datetime.datetime.now(datetime.UTC))
        if verdict.principal is None:
            return self.gateway_response(request, exchange, verdict.response_type, verdict.message)
        exchange.function, exchange.operation = function, self.operations.get((route, request.command))
        exchange.via = "invoke-api"
        path, _, query = request.path.partition("?")
        event = rest_api_event(
            request.command, route, path, query, headers, parameters, body, self.iam, verdict.principal
        )
        return self.invoke(request, exchange, function, event)

    def route(self, method: str, path: str) -> tuple[str | None, str | None, dict[str, str]]:
        """(the route's path template, the function for the method, path parameters)."""
        for template, pattern, methods in self.routes:
            match = pattern.match(path)
            if match:
                return template, methods.get(method), match.groupdict()
        return None, None, {}

    def read_body(self, request: BaseHTTPRequestHandler, length: int) -> bytes:
        if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(request.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while request.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(request.rfile.read(size))
                request.rfile.readline()
                if sum(map(len, chunks)) > MAX_BODY_BYTES:
                    request.close_connection = True
                    return b"".join(chunks)
        return request.rfile.read(length) if length else b""

    def drain(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_DRAINED_BYTES:
            request.close_connection = True
            return
        while length > 0:
            chunk = request.rfile.read(min(length, 1 << 20))
            if not chunk:
                break
            length -= len(chunk)

    def call_router(
        self, exchange: Exchange, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """(status, headers, body) of the router's answer, or None when none
        came. Once connected, the request counts as delivered to its
        function; one the router refused to connect never reached it."""
        connection = http.client.HTTPConnection(*self.router, timeout=ROUTER_TIMEOUT_S)
        try:
            connection.connect()
            exchange.delivered = exchange.function is not None
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()

    @classmethod
    def router_failed(cls, request: BaseHTTPRequestHandler, exchange: Exchange) -> None:
        """No answer from the router: a 502 (504 once the request was sent),
        as API Gateway answers when its integration fails."""
        status = 504 if exchange.delivered else 502
        body = json.dumps({"message": "no answer from the local router", "type": "UNHANDLED_EXCEPTION"}).encode()
        cls.reply(request, status, [("Content-Type", "application/json")], body)

    def forward(self, request: BaseHTTPRequestHandler, exchange: Exchange, body: bytes) -> None:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}}
        if body or request.command in ("POST", "PUT"):
            headers["Content-Length"] = str(len(body))
        answer = self.call_router(exchange, request.command, request.path, body or None, headers)
        if answer is None:
            return self.router_failed(request, exchange)
        status, response_headers, payload = answer
        # Recorded before replying: logged even if the client is gone by now.
        exchange.status = status
        self.reply(request, status, response_headers, payload)

    def invoke(self, request: BaseHTTPRequestHandler, exchange: Exchange, function: str, event: dict[str, Any]) -> None:
        """Invokes `function` with `event` through the Invoke API and answers
        as API Gateway would with its proxy response."""
        invocation = self.call_router(
            exchange,
            "POST",
            f"/2015-03-31/functions/{function}/invocations",
            json.dumps(event).encode(),
            {"Content-Type": "application/json"},
        )
        if invocation is None:
            return self.router_failed(request, exchange)
        invoke_status, invoke_headers, answer = invocation
        try:
            result = json.loads(answer)
        except ValueError:
            result = None
        if not isinstance(result, dict):
            result = {}
        status = int(result.get("statusCode", 500))
        exchange.status = status
        if "statusCode" not in result:
            exchange.error_type = function_error(max(invoke_status, 500), invoke_headers, answer)
        payload = result.get("body") or ""
        payload = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        headers = list((result.get("headers") or {}).items())
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((name, value) for value in values)
        self.reply(request, status, headers, payload)

    def gateway_response(
        self, request: BaseHTTPRequestHandler, exchange: Exchange, response_type: str, message: str
    ) -> None:
        """Renders the template's gateway response as API Gateway would (its
        DEFAULT_4XX for a type the template does not set)."""
        response = self.responses.get(response_type) or {
            **self.responses["DEFAULT_4XX"],
            "StatusCode": DEFAULT_STATUSES[response_type],
        }
        template = response["ResponseTemplates"]["application/json"]
        body = template.replace("$context.error.messageString", json.dumps(message))
        body = body.replace("$context.requestId", str(uuid.uuid4()))
        headers = [("Content-Type", "application/json")]
        for name, value in response.get("ResponseParameters", {}).get("Headers", {}).items():
            headers = [h for h in headers if h[0].lower() != name.lower()] + [(name, value.strip("'"))]
        exchange.status = int(response["StatusCode"])
        self.reply(request, exchange.status, headers, body.encode())

    def method_not_allowed(self, request: BaseHTTPRequestHandler, exchange: Exchange, route: str) -> None:
        """Renders the template's mock integration for undeclared methods;
        a route without one answers as an unknown route, as API Gateway
        does for a method no resource declares."""
        if route not in self.other_methods:
            return self.gateway_response(
                request, exchange, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"
            )
        response = self.other_methods[route]
        body = response["responseTemplates"]["application/json"].replace("$context.requestId", str(uuid.uuid4()))
        headers = [("Content-Type", "application/json")]
        for name, value in response.get("responseParameters", {}).items():
            headers.append((name.removeprefix("method.response.header."), value.strip("'")))
        exchange.status = int(response["statusCode"])
        self.reply(request, exchange.status, headers, body.encode())

    @staticmethod
    def reply(request: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        request.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP | {"content-length", "date", "server"}:
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(payload)


def valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
