"""The local stack's own logic, checked without starting it. Run by `make test`."""

from __future__ import annotations

import json
import re
import stat
import sys
import tempfile
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
            command[:10],
            [
                "cargo",
                "run",
                "--quiet",
                "--locked",
                "-p",
                "secrets-testkit",
                "--bin",
                "mint-token",
                "--",
                "--secret-file",
            ],
        )
        secret_file = Path(command[10])
        self.assertEqual(secret_file, self.local / "jwt-hs256-secret")
        self.assertEqual(stat.S_IMODE(secret_file.stat().st_mode), 0o600)
        self.assertEqual(len(secret_file.read_text()), 64, "32 random bytes, hex")
        self.assertEqual(
            command[11:],
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


if __name__ == "__main__":
    unittest.main()
