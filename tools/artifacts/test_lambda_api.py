"""The harness's Invoke API in front of a function whose runtime is a fake
one (poll, then answer or report an error), called over HTTP as the SDK
calls Lambda."""

from __future__ import annotations

import http.client
import json
import tempfile
import threading
import unittest
import urllib.parse
from pathlib import Path

from tools.artifacts.functions import Function
from tools.artifacts.lambda_api import LambdaApi, Named, function_named
from tools.artifacts.runtime_api import INVOCATION, RuntimeApi
from tools.artifacts.test_runtime_api import FakeFunction

NAME = "stack-ResealSecretFunction-local"
ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{NAME}"


PLACE = ("us-east-1", "123456789012")


class FunctionNamedTest(unittest.TestCase):
    def test_a_function_is_named_by_name_alias_or_arn(self) -> None:
        for named, expected in (
            (NAME, Named(NAME, None, None)),
            (f"{NAME}:live", Named(NAME, "live", None)),
            (ARN, Named(NAME, None, PLACE)),
            (f"{ARN}:live", Named(NAME, "live", PLACE)),
            (urllib.parse.quote(f"{ARN}:live", safe=""), Named(NAME, "live", PLACE)),
        ):
            with self.subTest(named=named):
                self.assertEqual(function_named(f"/2015-03-31/functions/{named}/invocations"), expected)

    def test_other_paths_name_no_function(self) -> None:
        for path in (
            "/2015-03-31/functions/x",
            "/2018-06-01/runtime/invocation/next",
            "/2015-03-31/functions//invocations",
        ):
            with self.subTest(path=path):
                self.assertIsNone(function_named(path))
        self.assertIsNone(function_named("/2015-03-31/functions/arn:aws:lambda:us-east-1:1:layer:x/invocations"))


class LambdaApiTest(unittest.TestCase):
    def setUp(self) -> None:
        self.runtime = RuntimeApi(f"{ARN}:live", timeout_s=10)
        self.runtime.start()
        logs = Path(tempfile.mkdtemp())
        self.api = LambdaApi("live", "1")
        self.api.place = PLACE
        self.function_timeout_s = 10.0
        self.api.functions = {
            NAME: Function("ResealSecretFunction", NAME, self.runtime, logs / "f.log", self.function_timeout_s)
        }
        self.api.start()
        host, port = self.api.endpoint.removeprefix("http://").split(":")
        self.client = http.client.HTTPConnection(host, int(port), timeout=10)
        self.function = FakeFunction(self.runtime.address)
        self.serving: threading.Thread | None = None

    def tearDown(self) -> None:
        # The fake runtime reads the answer to its post before it is closed.
        if self.serving:
            self.serving.join(10)
        self.client.close()
        self.function.close()
        self.api.stop()
        self.runtime.stop()

    def runtime_answers(self, path: str, body: bytes) -> list[bytes]:
        """Runs the fake runtime for one event: it posts `body` to the
        invocation's `path` (`response` or `error`); returns the events."""
        events: list[bytes] = []

        def serve() -> None:
            _, headers, event = self.function.next()
            events.append(event)
            request_id = headers["Lambda-Runtime-Aws-Request-Id"]
            self.function.post(f"{INVOCATION}{request_id}/{path}", body)

        self.serving = threading.Thread(target=serve, daemon=True)
        self.serving.start()
        return events

    def invoke(self, named: str, payload: dict[str, object]) -> tuple[int, dict[str, str], bytes]:
        self.client.request("POST", f"/2015-03-31/functions/{named}/invocations", body=json.dumps(payload).encode())
        response = self.client.getresponse()
        return response.status, dict(response.getheaders()), response.read()

    def test_a_payload_is_a_200_and_the_function_is_counted_as_invoked(self) -> None:
        events = self.runtime_answers("response", b'{"sealed": {}}')
        status, headers, body = self.invoke(f"{ARN}:live", {"from": 1})
        self.assertEqual((status, body), (200, b'{"sealed": {}}'))
        self.assertNotIn("X-Amz-Function-Error", headers)
        self.assertEqual(json.loads(events[0]), {"from": 1})
        self.assertEqual(self.api.invoked, {"ResealSecretFunction"})

    def test_a_function_error_is_a_200_that_says_so(self) -> None:
        self.runtime_answers("error", b'{"errorType": "ResealFailed", "errorMessage": "x"}')
        status, headers, body = self.invoke(f"{NAME}:live", {})
        self.assertEqual((status, headers.get("X-Amz-Function-Error")), (200, "Unhandled"))
        self.assertEqual(json.loads(body)["errorType"], "ResealFailed")

    def test_a_function_alias_or_place_nobody_started_is_a_404_resource_not_found(self) -> None:
        other_account = ARN.replace("123456789012", "210987654321")
        for named in ("nobody:live", f"{NAME}:livee", f"{ARN}:prod", f"{other_account}:live"):
            with self.subTest(named=named):
                status, headers, _ = self.invoke(named, {})
                self.assertEqual((status, headers.get("X-Amzn-ErrorType")), (404, "ResourceNotFoundException"))
        self.assertEqual(self.api.invoked, set())

    def test_a_call_to_another_service_is_refused_and_recorded(self) -> None:
        headers = {"X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": "application/x-amz-json-1.1"}
        self.client.request("POST", "/", body=b'{"Entries": []}', headers=headers)
        response = self.client.getresponse()
        response.read()
        self.assertEqual(response.status, 400)
        self.assertEqual(self.api.strays, ["AWSEvents.PutEvents"])
        self.assertEqual(self.api.invoked, set())

    def test_a_payload_that_is_not_json_is_a_400(self) -> None:
        self.client.request("POST", f"/2015-03-31/functions/{NAME}/invocations", body=b"{not json")
        response = self.client.getresponse()
        response.read()
        self.assertEqual(
            (response.status, response.getheader("X-Amzn-ErrorType")), (400, "InvalidRequestContentException")
        )

    def test_a_function_that_never_answers_is_a_function_error_and_reported(self) -> None:
        self.api.functions[NAME].timeout_s = 0.3
        status, headers, _ = self.invoke(NAME, {})
        self.assertEqual((status, headers.get("X-Amz-Function-Error")), (200, "Unhandled"))
        self.assertEqual(len(self.api.failures), 1)
        self.assertIn("did not answer within", str(self.api.failures[0]))


if __name__ == "__main__":
    unittest.main()
