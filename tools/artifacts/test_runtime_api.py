"""The Runtime API against a fake function: an HTTP client that does what
a runtime client does (poll, answer, report errors), on one keep-alive
connection as the Rust runtime client keeps it."""

from __future__ import annotations

import http.client
import json
import threading
import time
import unittest

from tools.artifacts.runtime_api import ERROR_TYPE_HEADER, INIT_ERROR, NEXT, RuntimeApi

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fake:live"


class FakeFunction:
    def __init__(self, address: str) -> None:
        host, port = address.split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=10)

    def next(self) -> tuple[int, dict[str, str], bytes]:
        self.connection.request("GET", NEXT)
        response = self.connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> int:
        self.connection.request("POST", path, body=body, headers=headers or {})
        response = self.connection.getresponse()
        response.read()
        return response.status

    def close(self) -> None:
        self.connection.close()


class RuntimeApiTest(unittest.TestCase):
    def setUp(self) -> None:
        self.api = RuntimeApi(ARN, timeout_s=10)
        self.api.start()
        self.function = FakeFunction(self.api.address)

    def tearDown(self) -> None:
        self.function.close()
        self.api.stop()

    def poll_in_background(self) -> list[tuple[int, dict[str, str], bytes]]:
        polled: list[tuple[int, dict[str, str], bytes]] = []
        thread = threading.Thread(target=lambda: polled.append(self.function.next()), daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)
        return polled

    def test_next_blocks_until_an_event_is_queued_then_hands_it_out_with_lambdas_headers(self) -> None:
        polled = self.poll_in_background()
        self.assertTrue(self.api.wait_for_poll(5), "the poll was not noted")
        time.sleep(0.1)
        self.assertEqual(polled, [], "next answered before any event was queued")
        before_ms = time.time() * 1000
        invocation = self.api.invoke(b'{"hello":"world"}')
        deadline = time.monotonic() + 5
        while not polled and time.monotonic() < deadline:
            time.sleep(0.01)
        ((status, headers, body),) = polled
        self.assertEqual((status, body), (200, b'{"hello":"world"}'))
        self.assertEqual(headers["Lambda-Runtime-Aws-Request-Id"], invocation.request_id)
        self.assertEqual(headers["Lambda-Runtime-Invoked-Function-Arn"], ARN)
        self.assertTrue(headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-"))
        deadline_ms = int(headers["Lambda-Runtime-Deadline-Ms"])
        self.assertAlmostEqual(deadline_ms - before_ms, 10_000, delta=2_000)

    def test_a_response_completes_its_invocation(self) -> None:
        invocation = self.api.invoke(b"{}")
        status, headers, _ = self.function.next()
        self.assertEqual(status, 200)
        self.assertIsNone(invocation.wait(0), "completed before any answer")
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        path = f"/2018-06-01/runtime/invocation/{request_id}/response"
        self.assertEqual(self.function.post(path, b'{"statusCode":200}'), 202)
        outcome = invocation.wait(5)
        assert outcome is not None
        self.assertEqual((outcome.payload, outcome.error), (b'{"statusCode":200}', False))
        self.assertEqual(self.function.post(path, b"{}"), 400, "a second answer was accepted")

    def test_an_error_completes_its_invocation_as_an_error(self) -> None:
        invocation = self.api.invoke(b"{}")
        _, headers, _ = self.function.next()
        path = f"/2018-06-01/runtime/invocation/{headers['Lambda-Runtime-Aws-Request-Id']}/error"
        error = json.dumps({"errorType": "Boom", "errorMessage": "it broke"}).encode()
        self.assertEqual(self.function.post(path, error, {ERROR_TYPE_HEADER: "Runtime.Boom"}), 202)
        outcome = invocation.wait(5)
        assert outcome is not None
        self.assertEqual((outcome.error, outcome.error_type, outcome.payload), (True, "Runtime.Boom", error))

    def test_a_chunked_response_is_read_whole(self) -> None:
        invocation = self.api.invoke(b"{}")
        _, headers, _ = self.function.next()
        path = f"/2018-06-01/runtime/invocation/{headers['Lambda-Runtime-Aws-Request-Id']}/response"
        self.function.connection.request("POST", path, body=iter([b'{"a":', b"1}"]), encode_chunked=True)
        response = self.function.connection.getresponse()
        response.read()
        self.assertEqual(response.status, 202)
        outcome = invocation.wait(5)
        assert outcome is not None
        self.assertEqual(outcome.payload, b'{"a":1}')

    def test_events_are_handed_out_in_order(self) -> None:
        first, second = self.api.invoke(b"1"), self.api.invoke(b"2")
        for invocation in (first, second):
            _, headers, body = self.function.next()
            self.assertEqual(
                (headers["Lambda-Runtime-Aws-Request-Id"], body), (invocation.request_id, invocation.event)
            )

    def test_an_unknown_invocation_is_refused(self) -> None:
        self.assertEqual(self.function.post("/2018-06-01/runtime/invocation/nope/response", b"{}"), 400)

    def test_an_init_error_is_recorded(self) -> None:
        self.assertEqual(self.function.post(INIT_ERROR, b'{"errorType":"Config"}', {ERROR_TYPE_HEADER: "X"}), 202)
        ((error,),) = [self.api.init_errors]
        self.assertEqual((error.error_type, error.payload), ("X", b'{"errorType":"Config"}'))

    def test_no_poll_is_reported_before_one_arrives(self) -> None:
        self.assertFalse(self.api.wait_for_poll(0.1))

    def test_stopping_releases_a_waiting_poll(self) -> None:
        polled = self.poll_in_background()
        self.assertTrue(self.api.wait_for_poll(5))
        self.api.stop()
        deadline = time.monotonic() + 5
        while not polled and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual([status for status, _, _ in polled], [410])


if __name__ == "__main__":
    unittest.main()
