"""The conformance runs' verdict: exit codes it cannot account for, failures
that are not deliberate differences (operation and status both), and
operations never answered 2xx all fail a run. Small reports made here, and
one real schemathesis run against a stand-in service. Run by `make test`."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import tempfile
import threading
import unittest
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from tools.checks import conformance
from tools.checks.openapi import build

UPSTREAM = conformance.load_document(conformance.UPSTREAM)
OURS = conformance.load_document(conformance.OURS)

LIST = ("GET", "/api/v1/secrets")
CREATE = ("POST", "/api/v1/secrets")
GET = ("GET", "/api/v1/secrets/{tagOrId}")
UPDATE = ("PUT", "/api/v1/secrets/{tagOrId}")
DELETE = ("DELETE", "/api/v1/secrets/{tagOrId}")
VERSIONS = ("GET", "/api/v1/secrets/{tagOrId}/versions")
# The upstream contract's operations, and ours (which adds the versions list,
# the deleted secrets' list and two restores).
OPERATIONS = (LIST, CREATE, GET, UPDATE, DELETE)
RESTORE = ("POST", "/api/v1/secrets/{tagOrId}/versions/{valueVersion}/restore")
DELETED = ("GET", "/api/v1/deleted-secrets")
RECOVER = ("POST", "/api/v1/deleted-secrets/{id}/restore")
OUR_OPERATIONS = (*OPERATIONS, VERSIONS, RESTORE, DELETED, RECOVER)


class Scenario:
    """Builds a ScenarioFinished event shaped as schemathesis writes it."""

    def __init__(self) -> None:
        self.cases: dict[str, Any] = {}
        self.interactions: dict[str, Any] = {}
        self.checks: dict[str, Any] = {}

    def add(
        self,
        operation: tuple[str, str],
        status: int,
        *,
        code: str | None = None,
        message: str = "",
        body: dict[str, Any] | None = None,
        sent_with: str | None = None,
        headers: dict[str, list[str]] | None = None,
        named: tuple[str, str] | None = None,
        secret: str | None = None,
        recorded: bool = True,
    ) -> Scenario:
        """`secret`: the {tagOrId} the request is sent with, kept in the
        case's path parameters (unless not `recorded`) and in its URI."""
        method, path = operation
        case_id = uuid.uuid4().hex[:6]
        value: dict[str, Any] = {"method": method, "path": path, "id": case_id}
        if secret is not None and recorded:
            value["path_parameters"] = {"tagOrId": secret}
        self.cases[case_id] = {"value": value}
        content = base64.b64encode(json.dumps(body or {}).encode()).decode()
        sent_to = path.replace("{tagOrId}", secret) if secret is not None else path
        self.interactions[case_id] = {
            "request": {"method": sent_with or method, "uri": f"http://127.0.0.1:9000{sent_to}"},
            "response": {"status_code": status, "content": {"$base64": content}, "headers": headers or {}},
        }
        check: dict[str, Any] = {"name": "some_check", "status": "success"}
        if code is not None:
            # schemathesis names the failed check's operation; for a lost
            # resource sometimes the one that created it (`named`).
            named_method, named_path = named or operation
            failure = {
                "code": code,
                "operation": f"{named_method} {named_path}",
                "message": message,
                "case_id": case_id,
            }
            check = {"name": "some_check", "status": "failure", "failure_info": {"failure": failure}}
        self.checks[case_id] = [check]
        return self

    def event(self) -> str:
        recorder = {"label": "x", "cases": self.cases, "checks": self.checks, "interactions": self.interactions}
        return json.dumps({"ScenarioFinished": {"phase": "fuzzing", "recorder": recorder}})


def every_operation_served() -> Scenario:
    """A 200 of every operation of our document (a superset of upstream's)."""
    scenario = Scenario()
    for operation in OUR_OPERATIONS:
        scenario.add(operation, 200)
    return scenario


def report(*scenarios: Scenario, finished: bool = True, extra: tuple[str, ...] = ()) -> conformance.Report:
    lines = [json.dumps({"Initialize": {}}), *(s.event() for s in scenarios), *extra]
    if finished:
        lines.append(json.dumps({"EngineFinished": {"stop_reason": "completed"}}))
    return conformance.read_report(lines)


def judge_upstream(exit_code: int, *scenarios: Scenario) -> conformance.Verdict:
    return conformance.judge(exit_code, "", report(*scenarios), UPSTREAM, conformance.DELIBERATE)


class Verdicts(unittest.TestCase):
    def assert_problem(self, verdict: conformance.Verdict, pattern: str) -> None:
        self.assertTrue(any(re.search(pattern, p) for p in verdict.problems), f"{pattern!r} not in {verdict.problems}")

    def test_a_clean_run_serving_every_operation_passes(self) -> None:
        for document in (OURS, UPSTREAM):
            verdict = conformance.judge(0, "", report(every_operation_served()), document, ())
            self.assertEqual(verdict.problems, [])

    def test_an_operation_never_answered_2xx_fails_the_run(self) -> None:
        scenario = Scenario()
        for operation in (LIST, CREATE, UPDATE, DELETE, VERSIONS, RESTORE, DELETED, RECOVER):
            scenario.add(operation, 200)
        for _ in range(3):
            scenario.add(GET, 404)
        verdict = conformance.judge(0, "", report(scenario), OURS, ())
        self.assertEqual(
            verdict.problems,
            ["getSecret (GET /api/v1/secrets/{tagOrId}): no 2xx response in the run (responses seen: 404: 3)"],
        )

    def test_an_operation_whose_success_needs_state_must_be_tried_and_never_fail(self) -> None:
        without_restore = Scenario()
        for operation in (*OPERATIONS, VERSIONS, DELETED):
            without_restore.add(operation, 200)
        without_restore.add(RECOVER, 404)
        verdict = conformance.judge(0, "", report(without_restore), OURS, ())
        self.assertEqual(len(verdict.problems), 1, verdict.problems)
        self.assertIn("restoreSecretVersion", verdict.problems[0])
        tried = without_restore.add(RESTORE, 409).add(RESTORE, 404)
        self.assertEqual(conformance.judge(0, "", report(tried), OURS, ()).problems, [])
        failing = tried.add(RESTORE, 500)
        self.assertIn("a 5xx", conformance.judge(0, "", report(failing), OURS, ()).problems[0])

    def lost_secret(
        self, *, replayed: bool, lost: str, named: tuple[str, str] | None = None, recorded: bool = True
    ) -> conformance.Verdict:
        """A create answered with secret "se1", as a replay or not, then a 404
        (ST302) for the secret `lost`; the create's answer with another
        secret ("se2", replayed) in the same sequence too."""
        sequence = every_operation_served()
        headers = {"idempotent-replayed": ["true"]} if replayed else {}
        sequence.add(CREATE, 200, headers=headers, body={"id": "se1", "name": "n", "tag": "t1"})
        sequence.add(CREATE, 200, body={"id": "se2", "name": "n", "tag": "t2"})
        sequence.add(GET, 404, code="ST302", message="not found", named=named, secret=lost, recorded=recorded)
        return conformance.judge(1, "", report(sequence), OURS, conformance.OURS_DELIBERATE)

    def assert_lost_secret(self, verdict: conformance.Verdict, *, deliberate: bool) -> None:
        found = [problem for problem in verdict.problems if '"code": "ST302"' in problem]
        self.assertEqual(len(found), 0 if deliberate else 1, verdict.problems)
        self.assertEqual(len(verdict.problems), len(found), verdict.problems)
        self.assertEqual(sum(verdict.deliberate.values()), 1 if deliberate else 0)

    def test_a_lost_secret_is_deliberate_only_after_a_replayed_create_of_it(self) -> None:
        for named in (None, CREATE):  # named by the 404'd request, or by the create
            for recorded in (True, False):  # its {tagOrId} in the case, or only in the URI
                for replayed, lost, deliberate in (
                    (True, "se1", True),
                    (False, "se1", False),
                    # The replayed create answered with another secret.
                    (True, "se2", False),
                    (True, "se3", False),
                ):
                    with self.subTest(named=named, recorded=recorded, replayed=replayed, lost=lost):
                        verdict = self.lost_secret(replayed=replayed, lost=lost, named=named, recorded=recorded)
                        self.assert_lost_secret(verdict, deliberate=deliberate)

    def test_a_lost_secret_is_not_deliberate_when_the_replay_answered_no_id(self) -> None:
        sequence = every_operation_served()
        sequence.add(CREATE, 200, headers={"idempotent-replayed": ["true"]})
        sequence.add(GET, 404, code="ST302", message="not found", secret="se1")
        verdict = conformance.judge(1, "", report(sequence), OURS, conformance.OURS_DELIBERATE)
        self.assert_lost_secret(verdict, deliberate=False)

    def test_the_secret_a_failing_request_addressed_is_read_from_its_case_or_its_uri(self) -> None:
        for recorded in (True, False):
            with self.subTest(recorded=recorded):
                scenario = Scenario().add(CREATE, 200, headers={"Idempotent-Replayed": ["true"]}, body={"id": "seA"})
                scenario.add(VERSIONS, 404, code="ST302", secret="se%2FB", recorded=recorded)
                scenario.add(LIST, 500, code="ST100")
                (lost, listed) = report(scenario).failures
                self.assertEqual(lost.replayed_ids, frozenset({"seA"}))
                self.assertEqual(lost.addressed, "se%2FB" if recorded else "se/B")
                self.assertIsNone(listed.addressed)

    def test_an_operation_never_tried_fails_the_run(self) -> None:
        scenario = Scenario().add(LIST, 200).add(CREATE, 200).add(GET, 200).add(UPDATE, 200)
        verdict = conformance.judge(0, "", report(scenario), OURS, ())
        self.assert_problem(verdict, r"^deleteSecret .*responses seen: none")

    def test_a_2xx_to_another_method_is_not_credited(self) -> None:
        scenario = Scenario().add(LIST, 200).add(CREATE, 200).add(GET, 200).add(UPDATE, 200)
        scenario.add(DELETE, 404).add(DELETE, 200, sent_with="OPTIONS")
        verdict = conformance.judge(0, "", report(scenario), OURS, ())
        self.assert_problem(verdict, r"^deleteSecret .*responses seen: 404: 1\)")

    def test_exit_codes_it_cannot_account_for_fail_the_run(self) -> None:
        for code in (2, 3, 130, -9):
            with self.subTest(code=code):
                verdict = conformance.judge(code, "", report(every_operation_served()), OURS, ())
                self.assert_problem(verdict, f"exited with code {code}")

    def test_exit_1_needs_a_failure_or_an_error_in_the_report(self) -> None:
        verdict = judge_upstream(1, every_operation_served())
        self.assert_problem(verdict, "exited 1, yet its report holds no failure and no error")

    def test_exit_0_with_failures_in_the_report_fails(self) -> None:
        scenario = every_operation_served().add(CREATE, 409, code="ST103")
        verdict = judge_upstream(0, scenario)
        self.assert_problem(verdict, "exited 0, yet its report holds 1 failure")

    def test_an_unfinished_run_fails(self) -> None:
        verdict = conformance.judge(0, "", report(every_operation_served(), finished=False), OURS, ())
        self.assert_problem(verdict, "no EngineFinished event")

    def test_errors_in_the_report_or_the_output_fail(self) -> None:
        error = json.dumps({"NonFatalError": {"label": "GET /api/v1/secrets", "value": {"type": "ConnectionError"}}})
        verdict = conformance.judge(1, "", report(every_operation_served(), extra=(error,)), OURS, ())
        self.assert_problem(verdict, "schemathesis error: NonFatalError: .*ConnectionError")
        verdict = conformance.judge(0, "Test cases: 2 errored", report(every_operation_served()), OURS, ())
        self.assert_problem(verdict, "output reports errors")

    def test_without_deliberate_differences_any_failure_fails(self) -> None:
        scenario = every_operation_served().add(CREATE, 409, code="ST103", message="Undocumented status")
        verdict = conformance.judge(1, "", report(scenario), OURS, ())
        self.assert_problem(verdict, r'^failure: .*"code": "ST103", "operation": "POST /api/v1/secrets", "status": 409')

    def test_deliberate_differences_on_their_operations_and_statuses_pass(self) -> None:
        scenario = every_operation_served()
        scenario.add(CREATE, 409, code="ST103").add(UPDATE, 413, code="ST103").add(DELETE, 503, code="ST103")
        scenario.add(LIST, 200, code="ST201", message="Invalid component: `required` in query")
        scenario.add(CREATE, 400, code="ST202", body={"message": "tag must be 1 to 100 characters"})
        scenario.add(LIST, 400, code="ST202", body={"message": "pageSize must be 1 to 1000"})
        scenario.add(UPDATE, 413, code="ST202")
        verdict = judge_upstream(1, scenario)
        self.assertEqual(verdict.problems, [])
        self.assertEqual(
            dict(verdict.deliberate),
            {"documented statuses": 3, "optional paging": 1, "validation limits": 2, "body size limit": 1},
        )

    def test_a_deliberate_status_on_another_operation_is_not_deliberate(self) -> None:
        cases = [
            (UPDATE, 409, "ST103", {}, ""),  # only a create can conflict
            (GET, 413, "ST103", {}, ""),  # a GET carries no body
            (LIST, 413, "ST202", {}, ""),
            (GET, 400, "ST202", {"message": "tag must be 1 to 100 characters"}, ""),  # a bad key is a 404
            (CREATE, 200, "ST201", {}, "Invalid component: `required` in query"),
        ]
        for operation, status, code, body, message in cases:
            with self.subTest(operation=operation, status=status, code=code):
                scenario = every_operation_served().add(operation, status, code=code, body=body, message=message)
                verdict = judge_upstream(1, scenario)
                self.assertEqual(len(verdict.problems), 1, verdict.problems)
                self.assert_problem(verdict, f'"code": "{code}", "operation": "{" ".join(operation)}"')

    def test_a_deliberate_operation_with_another_status_or_check_is_not_deliberate(self) -> None:
        cases = [
            (CREATE, 418, "ST103", {}),
            (CREATE, 500, "ST100", {}),  # a server error is never deliberate
            (CREATE, 400, "ST202", {"message": "something else"}),
            (CREATE, 409, "ST202", {}),
        ]
        for operation, status, code, body in cases:
            with self.subTest(status=status, code=code):
                verdict = judge_upstream(1, every_operation_served().add(operation, status, code=code, body=body))
                self.assertEqual(len(verdict.problems), 1, verdict.problems)

    def test_documented_statuses_are_exactly_those_our_document_adds(self) -> None:
        """The table's (operation, status) pairs, against the documents."""
        (documented,) = (d for d in conformance.DELIBERATE if d.name == "documented statuses")
        built = build(UPSTREAM)
        for label, operation in conformance.operations_of(UPSTREAM).items():
            method, path = label.split(" ", 1)
            upstream = set(UPSTREAM["paths"][path][method.lower()]["responses"])
            ours = set(built["paths"][path][method.lower()]["responses"])
            added = {int(status) for status in ours - upstream} & set(documented.statuses)
            claimed = {status for status, ops in documented.statuses.items() if operation.operation_id in ops}
            self.assertEqual(claimed, added, label)
        every_id = {operation.operation_id for operation in conformance.operations_of(UPSTREAM).values()}
        for difference in conformance.DELIBERATE:
            for operations in difference.statuses.values():
                self.assertLessEqual(operations, every_id, difference.name)


class StandIn(BaseHTTPRequestHandler):
    """A service that creates, lists, updates and deletes, but whose GET of
    one secret always answers 404."""

    protocol_version = "HTTP/1.1"
    # One store for every request: handlers are made per connection.
    store: ClassVar[dict[str, dict[str, str]]] = {}

    def answer(self, status: int, body: Any = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def key(self) -> str | None:
        match = re.match(r"^/api/v1/secrets/([^/?]+)", self.path)
        return match.group(1) if match else None

    def body(self) -> Any:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def do_GET(self) -> None:
        if self.key() is None:
            self.answer(200, {"page": 0, "secrets": [], "total": 0, "totalPages": 0})
        else:
            self.answer(404, {"message": "secret not found", "type": "NOT_FOUND"})

    def do_POST(self) -> None:
        body = self.body()
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("name", "secret", "tag")):
            return self.answer(400, {"message": "bad request", "type": "BAD_REQUEST"})
        secret = {"id": "se" + uuid.uuid4().hex[:16], "name": body["name"], "tag": body["tag"]}
        self.store[secret["id"]] = self.store[secret["tag"]] = secret
        self.answer(200, secret)

    def do_PUT(self) -> None:
        self.body()
        secret = self.store.get(self.key() or "")
        if secret:
            self.answer(200, secret)
        else:
            self.answer(404, {"message": "not found", "type": "NOT_FOUND"})

    def do_DELETE(self) -> None:
        secret = self.store.pop(self.key() or "", None)
        if secret:
            self.answer(200)
        else:
            self.answer(404, {"message": "not found", "type": "NOT_FOUND"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@contextmanager
def stand_in() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class RealReport(unittest.TestCase):
    def test_the_report_of_the_pinned_schemathesis_is_read_as_it_is_written(self) -> None:
        with tempfile.TemporaryDirectory() as scratch, stand_in() as url:
            ndjson = Path(scratch) / "run.ndjson"
            command = [
                str(conformance.SCHEMATHESIS),
                "run",
                str(conformance.UPSTREAM),
                "--url",
                url,
                "--max-examples",
                "3",
                "--seed",
                "1",
                *conformance.report_options(ndjson),
            ]
            result = subprocess.run(command, cwd=scratch, capture_output=True, text=True, timeout=300)
            found = conformance.read_report(ndjson.read_text().splitlines())
        self.assertTrue(found.finished)
        # The stand-in ignores authentication: schemathesis finds that out.
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertTrue(found.failures)
        labels = set(conformance.operations_of(UPSTREAM))
        for failure in found.failures:
            self.assertIn(failure.operation, labels)
            self.assertRegex(failure.code, r"^ST\d{3}$")
            self.assertIsNotNone(failure.status)
        served = {label for label, statuses in found.statuses.items() if any(200 <= s < 300 for s in statuses)}
        self.assertLessEqual({"GET /api/v1/secrets", "POST /api/v1/secrets"}, served)
        self.assertIn(404, found.statuses["GET /api/v1/secrets/{tagOrId}"])
        self.assertNotIn("GET /api/v1/secrets/{tagOrId}", served)
        verdict = conformance.judge(result.returncode, result.stdout, found, UPSTREAM, ())
        self.assertTrue(
            any(p.startswith("getSecret (GET /api/v1/secrets/{tagOrId}): no 2xx") for p in verdict.problems)
        )


if __name__ == "__main__":
    unittest.main()
