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

Everything else is passed to the router unchanged. Routes come from the
router table in Cargo.toml, gateway responses from template.yaml.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
import time
import tomllib
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tools import ROOT

MAX_BODY_BYTES = 10 * 1024 * 1024
# An oversized body is read and dropped before the 413, as API Gateway reads
# a request before refusing it; only beyond this is the connection cut.
MAX_DRAINED_BYTES = 64 * 1024 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def load_routes() -> list[tuple[str, re.Pattern[str], dict[str, str]]]:
    """(path, pattern, {method: function}) from the watch router in Cargo.toml."""
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"]
    routes = []
    for path, targets in router.items():
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        routes.append((path, re.compile(f"^{pattern}$"), {t["method"]: t["function"] for t in targets}))
    return routes


def load_api() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text())
    api: dict[str, Any] = template["Resources"]["SecretsApi"]["Properties"]
    return api


def is_text(content_type: str) -> bool:
    """The router's own test for passing a body as text."""
    return content_type.startswith(("text/", "application/json"))


class Gateway:
    def __init__(self, host: str, port: int, router_port: int, log_path: Path | None = None) -> None:
        self.router = (host, router_port)
        self.log_path = log_path
        self.log_lock = threading.Lock()
        self.routes = load_routes()
        api = load_api()
        self.responses = api["GatewayResponses"]
        self.other_methods = {
            path: methods["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]["responses"]["default"]
            for path, methods in api["DefinitionBody"]["paths"].items()
        }
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_request(self) -> None:
                gateway.handle(self)

            def __getattr__(self, name: str) -> Callable[[], None]:
                # Every method, TRACE and made-up ones included, is routed.
                if name.startswith("do_"):
                    return self.do_request
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- one request ----------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        try:
            self.route_request(request)
        finally:
            elapsed_ms = (time.monotonic() - started) * 1000
            self.write_log(f"{request.command} {request.path[:200]} {elapsed_ms:.0f}ms\n")

    def write_log(self, line: str) -> None:
        if self.log_path is None:
            return
        with self.log_lock, self.log_path.open("a") as log:
            log.write(line)

    def route_request(self, request: BaseHTTPRequestHandler) -> None:
        path, _, query = request.path.partition("?")
        route, function, parameters = self.route(request.command, path)
        if route is None:
            self.drain(request)
            return self.gateway_response(request, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        if function is None:
            self.drain(request)
            return self.method_not_allowed(request, route)
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.drain(request)
            return self.gateway_response(request, "REQUEST_TOO_LARGE", "Request Too Long")
        body = self.read_body(request, length)
        if len(body) > MAX_BODY_BYTES:
            return self.gateway_response(request, "REQUEST_TOO_LARGE", "Request Too Long")
        text_body_not_utf8 = body and is_text(request.headers.get("Content-Type", "")) and not valid_utf8(body)
        if text_body_not_utf8 or not all(value.isascii() for value in request.headers.values()):
            return self.invoke_directly(request, function, path, query, parameters, body)
        return self.forward(request, body)

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

    def forward(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}}
        if body or request.command in ("POST", "PUT"):
            headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(*self.router, timeout=120)
        try:
            connection.request(request.command, request.path, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            self.reply(request, response.status, response.getheaders(), payload)
        finally:
            connection.close()

    def invoke_directly(
        self,
        request: BaseHTTPRequestHandler,
        function: str,
        path: str,
        query: str,
        parameters: dict[str, str],
        body: bytes,
    ) -> None:
        now = time.time()
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": query,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "pathParameters": parameters,
            "requestContext": {
                "http": {
                    "method": request.command,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": request.headers.get("User-Agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": "$default",
                "stage": "$default",
                "domainName": "localhost",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "body": base64.b64encode(body).decode(),
            "isBase64Encoded": True,
        }
        connection = http.client.HTTPConnection(*self.router, timeout=120)
        try:
            connection.request(
                "POST",
                f"/2015-03-31/functions/{function}/invocations",
                body=json.dumps(event),
                headers={"Content-Type": "application/json"},
            )
            result = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        payload = result.get("body") or ""
        payload = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        headers = list((result.get("headers") or {}).items())
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((name, value) for value in values)
        self.reply(request, int(result.get("statusCode", 500)), headers, payload)

    def gateway_response(self, request: BaseHTTPRequestHandler, response_type: str, message: str) -> None:
        """Renders the template's gateway response as API Gateway would."""
        response = self.responses[response_type]
        template = response["ResponseTemplates"]["application/json"]
        body = template.replace("$context.error.messageString", json.dumps(message))
        body = body.replace("$context.requestId", str(uuid.uuid4()))
        headers = [("Content-Type", "application/json")]
        for name, value in response.get("ResponseParameters", {}).get("Headers", {}).items():
            headers = [h for h in headers if h[0].lower() != name.lower()] + [(name, value.strip("'"))]
        self.reply(request, int(response["StatusCode"]), headers, body.encode())

    def method_not_allowed(self, request: BaseHTTPRequestHandler, route: str) -> None:
        """Renders the template's mock integration for undeclared methods."""
        response = self.other_methods[route]
        body = response["responseTemplates"]["application/json"].replace("$context.requestId", str(uuid.uuid4()))
        headers = [("Content-Type", "application/json")]
        for name, value in response.get("responseParameters", {}).items():
            headers.append((name.removeprefix("method.response.header."), value.strip("'")))
        self.reply(request, int(response["statusCode"]), headers, body.encode())

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
