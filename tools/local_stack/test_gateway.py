"""The gateway shim as an observer: what it logs of each request, checked
against a stand-in router that plays the functions (answers, and EMF
records for the requests a function handled). Run by `make test`."""

from __future__ import annotations

import datetime
import http.client
import json
import socket
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from tools.local_stack import emf
from tools.local_stack.gateway import Gateway
from tools.local_stack.iam import sign
from tools.local_stack.test_emf import FUNCTIONS, GRANTS, NAMED, READ_ONE_SECRET
from tools.local_stack.test_iam import ACME, EVERYONE, local_iam

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class Functions(BaseHTTPRequestHandler):
    """The router and its Invoke API, with functions that print an EMF
    record for each request they handle, except when they crash."""

    protocol_version = "HTTP/1.1"
    records: ClassVar[list[str]] = []
    received: ClassVar[list[tuple[str, str, dict[str, str], bytes]]] = []

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def emf(self, operation: str, status: int) -> None:
        record = {
            "_aws": {},
            "Operation": operation,
            "FunctionName": FUNCTIONS[operation],
            "Status": status,
            "LeadingKeys": NAMED.get(FUNCTIONS[operation], READ_ONE_SECRET),
        }
        self.records.append(json.dumps(record))

    def handle_one(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((self.command, self.path, dict(self.headers), body))
        if self.path == "/2015-03-31/functions/resolve-secret/invocations":
            event = json.loads(body)
            principal = event["requestContext"].get("identity", {}).get("userArn")
            if event["pathParameters"].get("tagOrId") == "db" and principal:
                self.emf("resolveSecret", 200)
                value = {"id": "se0123456789abcdef", "name": "n", "tag": "db", "value": "v", "by": principal}
                return self.answer(200, {"statusCode": 200, "headers": {}, "body": json.dumps(value)})
            self.emf("resolveSecret", 404)
            return self.answer(200, {"statusCode": 404, "headers": {}, "body": '{"message":"secret not found"}'})
        if self.path == "/2015-03-31/functions/get-secret/invocations":
            self.emf("getSecret", 404)
            return self.answer(200, {"statusCode": 404, "headers": {}, "body": '{"message":"secret not found"}'})
        if self.command == "GET" and self.path == "/api/v1/secrets":
            self.emf("listAllSecrets", 200)
            return self.answer(200, {"page": 0, "secrets": [], "total": 0, "totalPages": 0})
        if self.command == "PUT":
            return self.answer(502, {"message": "the function exited"})  # a crash: no record
        if self.path.startswith("/2015-03-31/"):
            return self.answer(404, {"message": "not an invocation"})
        self.emf("getSecret", 401)
        return self.answer(401, {"message": "missing token"})

    def do_GET(self) -> None:
        self.handle_one()

    def do_POST(self) -> None:
        self.handle_one()

    def do_PUT(self) -> None:
        self.handle_one()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class Observer(unittest.TestCase):
    def setUp(self) -> None:
        Functions.records.clear()
        Functions.received.clear()
        scratch = tempfile.TemporaryDirectory()
        self.addCleanup(scratch.cleanup)
        self.log = Path(scratch.name) / "gateway.log"
        self.router = ThreadingHTTPServer((HOST, 0), Functions)
        threading.Thread(target=self.router.serve_forever, daemon=True).start()
        self.addCleanup(self.router.server_close)
        self.addCleanup(self.router.shutdown)

    def gateway(self, router_port: int) -> int:
        api_port = free_port()
        gateway = Gateway(HOST, api_port, router_port, self.log, iam=local_iam())
        gateway.start()
        self.addCleanup(gateway.stop)
        return api_port

    def signed(self, port: int, tenant: str, tag: str, principal: tuple[str, str, str, list[str]] = ACME) -> int:
        path = f"/internal/v1/tenants/{tenant}/secrets/{tag}"
        now = datetime.datetime.now(datetime.UTC)
        headers = sign("GET", f"http://{HOST}:{port}{path}", principal[0], principal[1], "us-east-1", now)
        return self.send(port, "GET", path, headers=headers)[0]

    def send(
        self, port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def logged(self, count: int) -> list[dict[str, Any]]:
        """The log, once it holds `count` lines: the shim writes a request's
        line after answering it."""
        deadline = time.monotonic() + 10
        while True:
            lines = self.log.read_text().splitlines()
            if len(lines) >= count or time.monotonic() > deadline:
                return [json.loads(line) for line in lines]
            time.sleep(0.05)

    def test_each_request_is_logged_with_the_function_it_reached_and_its_outcome(self) -> None:
        api = self.gateway(self.router.server_address[1])
        self.assertEqual(self.send(api, "GET", "/api/v1/secrets")[0], 200)
        self.assertEqual(self.send(api, "GET", "/api/v1/secrets/x")[0], 401)
        self.assertEqual(self.send(api, "GET", "/nowhere")[0], 404)
        self.assertEqual(self.send(api, "PATCH", "/api/v1/secrets")[0], 405)
        self.assertEqual(
            self.send(api, "PUT", "/api/v1/secrets/x", b"{}", {"Content-Type": "application/json"})[0], 502
        )
        self.assertEqual(self.send(api, "GET", "/api/v1/secrets/x", headers={"X-Note": "caf\u00e9"})[0], 404)
        self.assertEqual(self.signed(api, "acme", "db"), 200)
        self.assertEqual(self.signed(api, "acme", "nope"), 404)
        self.assertEqual(self.signed(api, "globex", "db"), 403)

        summary = [
            (e["via"], e["method"], e["function"], e["operation"], e["delivered"], e["status"], e["errorType"])
            for e in self.logged(9)
        ]
        self.assertEqual(
            summary,
            [
                ("router", "GET", "list-secrets", "listAllSecrets", True, 200, None),
                ("router", "GET", "get-secret", "getSecret", True, 401, None),
                ("gateway", "GET", None, None, False, 404, None),
                ("gateway", "PATCH", None, None, False, 405, None),
                ("router", "PUT", "update-secret", "updateSecret", True, 502, None),
                ("invoke-api", "GET", "get-secret", "getSecret", True, 404, None),
                ("invoke-api", "GET", "resolve-secret", "resolveSecret", True, 200, None),
                ("invoke-api", "GET", "resolve-secret", "resolveSecret", True, 404, None),
                ("gateway", "GET", None, None, False, 403, None),
            ],
        )
        # The stand-in's records against the shim's log: only the crash,
        # the operations these few requests never reached, and the costs
        # and conflicts of requests never made, differ.
        problems, records, requests = emf.check(Functions.records, self.log.read_text().splitlines(), GRANTS)
        self.assertEqual((records, requests), (5, 6))
        self.assertEqual(
            [p for p in problems if not p.endswith("no EMF record and no request at all")],
            [
                "updateSecret 5xx: 0 EMF record(s), 1 request(s) reached the function",
                "a served get is one consistent read",
                "a create is one data key and a four-item transaction",
                "no transaction met a conflict: the emulator did not isolate transactions",
            ],
        )

    def test_the_resolve_route_admits_only_what_iam_allows_and_names_the_signer(self) -> None:
        api = self.gateway(self.router.server_address[1])
        status, _, body = self.send(api, "GET", "/internal/v1/tenants/acme/secrets/db")
        self.assertEqual((status, json.loads(body)["message"]), (404, "no such route"))
        status, headers, _ = self.send(api, "POST", "/internal/v1/tenants/acme/secrets/db", b"{}")
        self.assertEqual((status, headers.get("Allow")), (405, "GET"))
        self.assertEqual(self.signed(api, "acme-corp", "db"), 403)
        self.assertEqual(self.signed(api, "globex", "db", EVERYONE), 200)
        token = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"}
        self.assertEqual(self.send(api, "GET", "/internal/v1/tenants/acme/secrets/db", headers=token)[0], 403)
        self.assertEqual(self.signed(api, "acme", "db"), 200)
        reached = [json.loads(body) for method, path, _, body in Functions.received if "resolve-secret" in path]
        self.assertEqual([event["requestContext"]["identity"]["userArn"] for event in reached], [EVERYONE[2], ACME[2]])
        # A REST API event, as the deployed route delivers it.
        self.assertEqual(reached[1]["resource"], "/internal/v1/tenants/{tenant}/secrets/{tagOrId}")
        self.assertEqual(reached[1]["pathParameters"], {"tenant": "acme", "tagOrId": "db"})

    def test_a_request_the_router_never_received_is_not_counted_as_delivered(self) -> None:
        closed = free_port()
        api = self.gateway(closed)
        self.assertEqual(self.send(api, "GET", "/api/v1/secrets")[0], 502)
        self.assertEqual(self.signed(api, "acme", "db"), 502)
        logged = self.logged(2)
        self.assertEqual(
            [(e["function"], e["delivered"], e["status"]) for e in logged],
            [
                ("list-secrets", False, None),
                ("resolve-secret", False, None),
            ],
        )

    def test_a_request_delivered_without_an_answer_is_logged_as_such(self) -> None:
        hang_up = socket.socket()
        hang_up.bind((HOST, 0))
        hang_up.listen()
        self.addCleanup(hang_up.close)

        def accept_and_close() -> None:
            connection, _ = hang_up.accept()
            connection.recv(65536)
            connection.close()

        threading.Thread(target=accept_and_close, daemon=True).start()
        api = self.gateway(hang_up.getsockname()[1])
        self.assertEqual(self.send(api, "GET", "/api/v1/secrets")[0], 504)
        [entry] = self.logged(1)
        self.assertEqual((entry["function"], entry["delivered"], entry["status"]), ("list-secrets", True, None))
        problems, _, _ = emf.check([], self.log.read_text().splitlines(), GRANTS)
        self.assertIn("listAllSecrets no answer: 0 EMF record(s), 1 request(s) reached the function", problems)


if __name__ == "__main__":
    unittest.main()
