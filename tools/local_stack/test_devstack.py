"""The local stack's own logic, checked without starting it. Run by `make test`."""

from __future__ import annotations

import json
import re
import stat
import sys
import tempfile
import time
import tomllib
import unittest
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from unittest import mock

from tools import ROOT
from tools.local_stack import devstack, tokens


class WarmUp(unittest.TestCase):
    def test_every_route_and_method_of_the_router_table_is_warmed_up(self) -> None:
        router = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["metadata"]["lambda"]["watch"]["router"]
        expected = sorted(
            (target["method"], path, re.sub(r"\{\w+\}", "warm-up", path))
            for path, targets in router.items()
            for target in targets
        )
        routes = devstack.warm_up_routes()
        self.assertEqual(sorted(routes), expected)
        functions = {target["function"] for targets in router.values() for target in targets}
        self.assertEqual(len(functions), 6, "six functions behind the router (the reseal function has no route)")
        self.assertEqual(len(routes), 11, "each function but create has two routes")
        self.assertFalse(any("{" in path for _, _, path in routes), routes)


class Tokens(unittest.TestCase):
    """The call of the Rust minter, checked against a stand-in that plays
    its contract: the token alone on stdout, exit code 0."""

    def setUp(self) -> None:
        local = tempfile.TemporaryDirectory()
        self.addCleanup(local.cleanup)
        self.local = Path(local.name)
        patcher = mock.patch.object(tokens, "LOCAL", self.local)
        patcher.start()
        self.addCleanup(patcher.stop)

    def minter(self, script: str) -> AbstractContextManager[Any]:
        """A stand-in minter: a Python script receiving the same arguments."""
        return mock.patch.object(tokens, "MINT_TOKEN", [sys.executable, "-c", script])

    def test_the_command_line_follows_the_minters_contract(self) -> None:
        command = tokens.mint_token_command("acme", ["CREATE_SECRETS", "OTHER"])
        self.assertEqual(
            command[:8],
            [
                "cargo",
                "run",
                "--quiet",
                "--locked",
                "--bin",
                "mint-token",
                "--",
                "--secret-file",
            ],
        )
        secret_file = Path(command[8])
        self.assertEqual(secret_file, self.local / "jwt-hs256-secret")
        self.assertEqual(stat.S_IMODE(secret_file.stat().st_mode), 0o600)
        self.assertEqual(len(secret_file.read_text()), 64, "32 random bytes, hex")
        self.assertEqual(
            command[9:],
            [
                "--issuer",
                tokens.ISSUER,
                "--audience",
                tokens.AUDIENCE,
                "--subject",
                "local-developer",
                "--tenant",
                "acme",
                "--permission",
                "CREATE_SECRETS",
                "--permission",
                "OTHER",
                "--ttl-secs",
                "3600",
            ],
        )

    def test_no_permission_means_no_permission_argument(self) -> None:
        self.assertNotIn("--permission", tokens.mint_token_command("acme", []))

    def test_make_token_permissions(self) -> None:
        self.assertEqual(devstack.token_permissions(None), ["CREATE_SECRETS"])
        self.assertEqual(devstack.token_permissions(""), [])
        self.assertEqual(devstack.token_permissions("  A  B "), ["A", "B"])

    def test_the_printed_token_is_returned_and_the_arguments_reach_the_minter(self) -> None:
        with self.minter("import json, sys; print(json.dumps(sys.argv[1:]))"):
            printed = tokens.mint_token("acme", ["CREATE_SECRETS"], ttl_s=60)
        arguments = json.loads(printed)
        self.assertEqual(arguments[arguments.index("--tenant") + 1], "acme")
        self.assertEqual(arguments[arguments.index("--ttl-secs") + 1], "60")
        self.assertEqual(arguments.count("--permission"), 1)

    def test_a_failing_minter_fails(self) -> None:
        with (
            self.minter("import sys; print('a.b.c'); sys.exit(3)"),
            self.assertRaisesRegex(RuntimeError, "exit code 3"),
        ):
            tokens.mint_token("acme", [])

    def test_anything_but_one_token_fails(self) -> None:
        for output in ["", "\n", "a.b.c\nd.e.f"]:
            with (
                self.subTest(output=output),
                self.minter(f"print({output!r}, end='')"),
                self.assertRaisesRegex(RuntimeError, "not one token"),
            ):
                tokens.mint_token("acme", [])


class Bootstrap(unittest.TestCase):
    """bootstrap against the emulator: the shapes of template.yaml, and
    nothing changed by a second run on the same emulator."""

    def test_the_audit_table_alone_has_a_stream_and_the_events_have_a_queue(self) -> None:
        from tools.local_stack.moto_in_process import MotoInProcess

        moto = MotoInProcess()
        self.addCleanup(moto.stop)
        with mock.patch.object(devstack, "log"):
            devstack.bootstrap(moto.port)
            devstack.bootstrap(moto.port)
        dynamodb = moto.client("dynamodb")
        audit = dynamodb.describe_table(TableName=devstack.AUDIT_TABLE)["Table"]
        self.assertEqual(audit["StreamSpecification"], {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        self.assertNotIn("StreamSpecification", dynamodb.describe_table(TableName=devstack.TABLE)["Table"])
        events, sqs = moto.client("events"), moto.client("sqs")
        (rule,) = events.list_rules()["Rules"]
        self.assertEqual(
            (rule["Name"], rule["EventBusName"], json.loads(rule["EventPattern"])),
            ("cortex-secrets-changes-local", "default", {"source": ["cortex.secrets"]}),
        )
        (queue,) = sqs.list_queues()["QueueUrls"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.assertTrue(arn.endswith(":cortex-secrets-changes-local"), arn)
        (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        self.assertEqual(target["Arn"], arn)

    def test_an_audit_table_made_without_a_stream_gets_one(self) -> None:
        from tools.local_stack.moto_in_process import MotoInProcess

        moto = MotoInProcess()
        self.addCleanup(moto.stop)
        dynamodb = moto.client("dynamodb")
        dynamodb.create_table(
            TableName=devstack.AUDIT_TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        with mock.patch.object(devstack, "log"):
            devstack.bootstrap(moto.port)
        audit = dynamodb.describe_table(TableName=devstack.AUDIT_TABLE)["Table"]
        self.assertEqual(audit["StreamSpecification"], {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})


class ChangeEvents(unittest.TestCase):
    """The change events wired as start_api wires them, around a stand-in
    publish function that does what publish-changes does: one PutEvents per
    change record it is handed."""

    def test_a_committed_change_comes_out_as_one_line_of_the_events_log(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from tools.local_stack import change_stream
        from tools.local_stack.moto_in_process import MotoInProcess
        from tools.local_stack.processes import HOST

        moto = MotoInProcess()
        self.addCleanup(moto.stop)
        with mock.patch.object(devstack, "log"):
            devstack.bootstrap(moto.port)
        events = moto.client("events")

        class Publisher(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                records = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["Records"]
                for record in records:
                    image = record["dynamodb"]["NewImage"]
                    detail = {"tenant": image["tenant"]["S"], "requestId": image["requestId"]["S"]}
                    events.put_events(
                        Entries=[
                            {"Source": "cortex.secrets", "DetailType": "Secret Changed", "Detail": json.dumps(detail)}
                        ]
                    )
                body = b'{"batchItemFailures":[]}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        router = ThreadingHTTPServer((HOST, 0), Publisher)
        threading.Thread(target=router.serve_forever, daemon=True).start()
        self.addCleanup(router.server_close)
        self.addCleanup(router.shutdown)
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        events_log = Path(directory.name) / "events.log"
        stack = mock.create_autospec(devstack.Stack, instance=True)
        stack.cleanups = []
        mapping = change_stream.Mapping(
            "TRIM_HORIZON",
            (json.loads('{"dynamodb": {"NewImage": {"outcome": {"S": ["allowed"]}}}}'),),
            report_batch_item_failures=True,
        )
        with (
            mock.patch.object(change_stream, "load_mapping", return_value=mapping),
            mock.patch.object(change_stream, "log"),
        ):
            devstack.start_change_events(stack, moto.port, router.server_port, events_log, events_to_console=False)
            self.addCleanup(lambda: [stop() for stop in reversed(stack.cleanups)])
            audit = {"pk": {"S": "TENANT#acme"}, "tenant": {"S": "acme"}, "requestId": {"S": "r1"}}
            dynamodb = moto.client("dynamodb")
            dynamodb.put_item(
                TableName=devstack.AUDIT_TABLE, Item={**audit, "sk": {"S": "1"}, "outcome": {"S": "allowed"}}
            )
            dynamodb.put_item(
                TableName=devstack.AUDIT_TABLE, Item={**audit, "sk": {"S": "2"}, "outcome": {"S": "refused"}}
            )
            deadline = time.monotonic() + 10
            while not events_log.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            (line,) = events_log.read_text().splitlines()
        event = json.loads(line)
        self.assertEqual((event["source"], event["detail"]), ("cortex.secrets", {"tenant": "acme", "requestId": "r1"}))
        self.assertEqual(len(stack.cleanups), 2, "both stopped with the stack")


if __name__ == "__main__":
    unittest.main()
