"""The exit codes of the command-line tools (make bench, make test-artifacts)."""

from __future__ import annotations

import subprocess
import unittest

from tools.local_stack.processes import exit_code


class ExitCodes(unittest.TestCase):
    def test_success_failures_and_interrupts(self) -> None:
        reported: list[str] = []

        def raising(error: BaseException) -> None:
            raise error

        cases = [
            (lambda: None, 0),
            (lambda: raising(subprocess.CalledProcessError(2, ["cargo", "build"])), 1),
            (lambda: raising(AssertionError("create: expected status 200")), 1),
            (lambda: raising(KeyboardInterrupt()), 130),
        ]
        for run, expected in cases:
            self.assertEqual(exit_code(run, (AssertionError,), reported.append), expected)
        self.assertEqual(reported, ["failed: cargo build", "failed: create: expected status 200"])

    def test_an_unexpected_error_is_not_swallowed(self) -> None:
        def broken() -> None:
            raise ValueError("a bug")

        with self.assertRaises(ValueError):
            exit_code(broken, (AssertionError,), lambda message: None)


if __name__ == "__main__":
    unittest.main()
