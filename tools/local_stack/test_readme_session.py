"""The README session's rule: which comments are expected output, how a
command's printed lines are matched with them, and that a mismatch of any
kind is caught, on small blocks and on the README's own block (run against
stand-in `curl` and `make`). Run by `make test`."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
import textwrap
import unittest
from pathlib import Path

from tools import ROOT
from tools.local_stack import readme_session
from tools.local_stack.readme_session import Command

README_BLOCK = readme_session.session_block((ROOT / "README.md").read_text())


def run(block: str, env: dict[str, str] | None = None) -> tuple[list[Command], list[list[str]], int | None, int]:
    commands = readme_session.parse(block)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_session.script(commands)],
        capture_output=True,
        text=True,
        env=env,
    )
    outputs, last = readme_session.split_output(result.stdout, len(commands))
    return commands, outputs, last, result.returncode


class Parsing(unittest.TestCase):
    def test_the_readme_block_follows_the_rule(self) -> None:
        commands = readme_session.parse(README_BLOCK)
        self.assertEqual(len(commands), 16)
        self.assertEqual(sum(len(c.expected) for c in commands), 11)
        self.assertTrue(commands[2].text.startswith('curl -s -X POST "$API"'))
        self.assertIn('\n  -d \'{"name":"My Secret"', commands[2].text, "continuation lines belong to the command")
        self.assertEqual([len(c.expected) for c in commands], [0, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1])

    def test_the_readme_documents_at_least_what_the_former_check_required(self) -> None:
        """The fragments the session's output was once checked for, in order,
        one a printed line: the README's comments may not say less."""
        fragments = [
            '"name":"My Secret","tag":"my-secret"}',
            '"name":"My Secret","tag":"my-secret"}',
            '"total":1,"totalPages":1}',
            '"name":"Renamed","tag":"my-secret"}',
            '"tag":"my-secret","value":"a-new-password"}',
            '"type":"CONFLICT","httpStatus":412',
            "200",
            '"type":"NOT_FOUND"',
            '"tag":"my-secret","deletedAt"',
            '"name":"Renamed","tag":"my-secret"}',
            "200",
        ]
        expected = [line for command in readme_session.parse(README_BLOCK) for line in command.expected]
        self.assertEqual(len(expected), len(fragments))
        for line, fragment in zip(expected, fragments, strict=True):
            self.assertIn(fragment, line)

    def test_output_comments_follow_their_command_and_prose_follows_a_blank_line(self) -> None:
        block = textwrap.dedent(
            """\
            # Prose first.
            echo one \\
              two
            # 1
            # [2]
            true

            # More prose.
            echo x
            # {"x":1}
            """
        )
        commands = readme_session.parse(block)
        self.assertEqual([c.text for c in commands], ["echo one \\\n  two", "true", "echo x"])
        self.assertEqual([c.expected for c in commands], [["1", "[2]"], [], ['{"x":1}']])
        self.assertEqual([c.line for c in commands], [2, 6, 9])

    def test_an_ambiguous_block_is_refused(self) -> None:
        for block, message in [
            ("echo a\n# prose right after a command\n", "must be its output"),
            ('echo a\n# {"a":1}\n# then prose\n', "must be its output"),
            ('echo a\n\n# {"a":1}\n', "follows no command"),
            ('# {"a":1}\n', "follows no command"),
            ("echo a \\\n", "ends inside a continued command"),
        ]:
            with self.subTest(block=block), self.assertRaisesRegex(ValueError, message):
                readme_session.parse(block)


class Matching(unittest.TestCase):
    def test_the_ellipsis_stands_for_any_text_and_the_rest_is_literal(self) -> None:
        expected = '{"id":"se…","name":"My Secret","requestId":"…"}'
        self.assertTrue(
            readme_session.matches(expected, '{"id":"se0123456789abcdef","name":"My Secret","requestId":""}')
        )
        self.assertFalse(readme_session.matches(expected, '{"id":"xx01","name":"My Secret","requestId":"r"}'))
        self.assertFalse(readme_session.matches(expected, '{"id":"se01","name":"My Secret!","requestId":"r"}'))
        self.assertFalse(readme_session.matches("200", "2000"), "the whole line must match")
        self.assertFalse(readme_session.matches("200", " 200"))
        self.assertTrue(readme_session.matches("a.*b", "a.*b"), "regex characters are literal")
        self.assertFalse(readme_session.matches("a.*b", "aXXb"))

    def test_every_mismatch_is_listed(self) -> None:
        commands = [Command("echo a", 1, ["a", "b"]), Command("echo c", 3, ["c"]), Command("true", 5, [])]
        problems = readme_session.compare(commands, [["a"], ["", "d", ""], ["e"]])
        self.assertEqual(
            problems,
            [
                "line 1 `echo a` should print 'b', and printed nothing more",
                "line 3 `echo c` should print 'c', and printed 'd'",
                "line 5 `true` printed 'e', which no output comment documents",
            ],
        )

    def test_blank_printed_lines_are_ignored(self) -> None:
        commands = [Command("echo a", 1, ["a"])]
        self.assertEqual(readme_session.compare(commands, [["", "a", "  "]]), [])


class Running(unittest.TestCase):
    def test_each_command_gets_what_it_printed(self) -> None:
        block = textwrap.dedent(
            """\
            X=$(echo hidden)
            printf '{"a":1}'; echo
            # {"a":1}
            printf '1 without a newline'
            # 1 without a newline
            echo "$X" \\
              again
            # [not] what it prints
            """
        )
        commands, outputs, last, code = run(block)
        self.assertEqual((code, last), (0, 3))
        printed = [[line for line in output if line] for output in outputs]
        self.assertEqual(printed, [[], ['{"a":1}'], ["1 without a newline"], ["hidden again"]])
        self.assertEqual(
            readme_session.compare(commands, outputs),
            ["line 6 `echo \"$X\" \\` should print '[not] what it prints', and printed 'hidden again'"],
        )

    def test_the_failing_command_is_known(self) -> None:
        commands, _, last, code = run("echo a\n# [a]\nfalse\necho never\n")
        self.assertNotEqual(code, 0)
        self.assertEqual(last, 1)
        self.assertEqual(commands[1].text, "false")


# Stand-ins for the stack behind the README's commands: `curl` answers as
# the API does (FAKE_TOTAL changes the list's total), `make` mints a token
# and resolves a secret.
FAKE_CURL = """\
#!/usr/bin/env python3
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
state = Path(os.environ["FAKE_STATE"])
secret = json.loads(state.read_text()) if state.exists() else None
method = args[args.index("-X") + 1] if "-X" in args else "GET"
url = next(a for a in args if a.startswith("http"))
headers = [args[i + 1] for i, a in enumerate(args) if a == "-H"]
def error(message, kind, status):
    body = {"message": message, "type": kind, "httpStatus": status, "requestId": "r-1"}
    return json.dumps(body, separators=(",", ":"))
view = lambda s: json.dumps({k: s[k] for k in ("id", "name", "tag")}, separators=(",", ":"))
if "-D" in args:
    sys.stdout.write('HTTP/1.1 200 OK\\r\\netag: "%s.2"\\r\\n\\r\\n' % secret["id"])
    sys.exit(0)
body = ""
deleted = secret is not None and secret.get("deleted", False)
if method == "POST" and url.endswith("/restore"):
    secret["deleted"] = False
    body = view(secret)
elif method == "POST":
    secret = {"id": "se0123456789abcdef", "name": "My Secret", "tag": "my-secret"}
    body = view(secret)
elif "/deleted-secrets" in url:
    kept = {"deletedAt": "2026-11-28T00:00:00.000Z", "deletedBy": "local", "purgeAt": "2026-12-05T00:00:00.000Z"}
    rows = [{**json.loads(view(secret)), **kept}] if deleted else []
    body = json.dumps({"secrets": rows, "next": None}, separators=(",", ":"))
elif "?page=" in url:
    total = int(os.environ.get("FAKE_TOTAL", "1"))
    rows = [json.loads(view(secret))] if secret and not deleted else []
    body = json.dumps({"page": 0, "secrets": rows, "total": total, "totalPages": 1}, separators=(",", ":"))
elif method == "PUT" and any(h.startswith("If-Match:") for h in headers):
    body = error("the secret has changed: If-Match does not name its current version", "CONFLICT", 412)
elif method == "PUT":
    secret["name"] = "Renamed"
    body = view(secret)
elif method == "DELETE":
    secret["deleted"] = True
elif secret is None or deleted:
    body = error("secret not found", "NOT_FOUND", 404)
else:
    body = view(secret)
state.write_text(json.dumps(secret))
sys.stdout.write(body)
if "-w" in args:
    sys.stdout.write(args[args.index("-w") + 1].replace("%{http_code}", "200").replace("\\\\n", "\\n"))
"""

FAKE_MAKE = """\
#!/usr/bin/env python3
import json, os, sys
from pathlib import Path
if sys.argv[1:] == ["-s", "token"]:
    print("aaa.bbb.ccc")
elif sys.argv[1:3] == ["-s", "resolve"]:
    secret = json.loads(Path(os.environ["FAKE_STATE"]).read_text())
    print(json.dumps({**secret, "value": "a-new-password"}, separators=(",", ":")))
else:
    sys.exit(f"unexpected make {sys.argv[1:]}")
"""


class TheReadmeBlock(unittest.TestCase):
    def run_readme(self, **env: str) -> list[str]:
        with tempfile.TemporaryDirectory() as scratch:
            bin_dir = Path(scratch)
            for name, source in (("curl", FAKE_CURL), ("make", FAKE_MAKE)):
                tool = bin_dir / name
                tool.write_text(source)
                tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
            environment = {
                **os.environ,
                "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                "FAKE_STATE": str(bin_dir / "state.json"),
                "API": "http://127.0.0.1:1/api/v1/secrets",
                **env,
            }
            commands, outputs, last, code = run(README_BLOCK, environment)
        self.assertEqual(code, 0)
        self.assertEqual(last, len(commands) - 1)
        return readme_session.compare(commands, outputs)

    def test_answers_as_documented_pass(self) -> None:
        self.assertEqual(self.run_readme(), [])

    def test_an_answer_unlike_the_readme_is_caught(self) -> None:
        problems = self.run_readme(FAKE_TOTAL="2")
        self.assertEqual(len(problems), 1, problems)
        self.assertIn('`curl -s "$API?page=0&pageSize=10"', problems[0])
        self.assertIn('"total":2', problems[0])


if __name__ == "__main__":
    unittest.main()
