"""Property-based conformance runs with schemathesis against a running stack.

1. With our document (openapi/cortex-secrets.json): every check must pass,
   stateful sequences (create, then get/update/delete what was created)
   included, but one documented behaviour (OURS_DELIBERATE): a create
   replayed from its Idempotency-Key names its secret even if it was
   deleted since, so a stateful get of it may find nothing.
2. With the upstream contract, unchanged: every failure must be one of the
   deliberate differences below, each of which the README lists, on an
   operation and with a status that difference applies to.

Each run must also end in a way this script can account for (exit code 0,
or 1 with failures in its report that are accounted for), and must have
seen at least one 2xx response for every operation of the document it ran:
a run that never got past 404s and 400s proves little. Responses, failures
and errors are read from the NDJSON report schemathesis writes for the run
(.local/schemathesis/ours.ndjson and upstream.ndjson).

    CONFORMANCE_TOKEN=... python -m tools.checks.conformance BASE_URL
                                        (`python -m tools.local_stack.devstack test` calls it)

SCHEMATHESIS_SEED and SCHEMATHESIS_MAX_EXAMPLES override the defaults.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tools import ROOT

OURS = ROOT / "openapi" / "cortex-secrets.json"
# Operations whose success needs a state generated requests rarely build:
# a restore needs a secret with a kept version that is not its current one
# (two values); a recovery, a secret deleted whose tag is still free. The
# e2e suite covers their 2xx (tests/e2e/versions.rs, deleted.rs); here they
# must be tried and never answer 5xx.
SUCCESS_NEEDS_STATE = {
    "restoreSecretVersion": "a secret with two values (e2e: versions.rs)",
    "recoverDeletedSecret": "a deleted secret whose tag is free (e2e: deleted.rs)",
}
UPSTREAM = ROOT / "openapi" / "upstream" / "cortex-secrets-openapi.json"
CONFIG = ROOT / "openapi" / "schemathesis.toml"
WORKDIR = ROOT / ".local" / "schemathesis"
SCHEMATHESIS = ROOT / ".venv" / "bin" / "schemathesis"
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261126")
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "50")

# schemathesis' exit codes: 0 nothing found, 1 checks failed (or errors).
# Anything else (2: configuration, schema or internal error, or nothing
# tested; 130: interrupted) is never accounted for.
EXIT_OK, EXIT_FAILURES = 0, 1
# Report events that say the run could not do its job, in part or whole.
ERROR_EVENTS = ("NonFatalError", "FatalError", "Interrupted")
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

VALIDATION_MESSAGES = ("tag ", "name ", "secret ", "page ", "pageSize ", "request body is not valid JSON")


# --- the documents --------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str

    @property
    def label(self) -> str:
        """How schemathesis names the operation in its reports."""
        return f"{self.method} {self.path}"


def operations_of(document: Mapping[str, Any]) -> dict[str, Operation]:
    """Every operation of an OpenAPI document, by schemathesis' label."""
    operations = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                found = Operation(method.upper(), path, operation.get("operationId", f"{method.upper()} {path}"))
                operations[found.label] = found
    return operations


def load_document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


# --- the deliberate differences from the upstream contract ----------------------


@dataclass(frozen=True)
class Failure:
    """One failed check, with the response it failed on."""

    code: str
    operation: str  # schemathesis' label, "METHOD /path/{template}"
    message: str
    status: int | None
    response_message: str
    # The secret the failing request addressed: its path's {tagOrId} (None
    # for a path without one).
    addressed: str | None = None
    # The ids answered by the creates of its stateful sequence that were
    # answered as a replay (`Idempotent-Replayed: true`).
    replayed_ids: frozenset[str] = frozenset()

    def describe(self) -> str:
        return json.dumps(
            {
                "code": self.code,
                "operation": self.operation,
                "status": self.status,
                "message": self.message[:400],
                "response_message": self.response_message[:200],
            }
        )


def always(_failure: Failure) -> bool:
    return True


@dataclass(frozen=True)
class Deliberate:
    """A difference from the upstream contract the README owns up to: a
    failure of the check `code`, answered with one of `statuses`, on one of
    the operations listed for that status (operationIds), and looking like
    `details` says."""

    name: str
    explanation: str
    code: str
    statuses: Mapping[int, frozenset[str]]
    details: Callable[[Failure], bool] = always

    def matches(self, failure: Failure, operation: Operation) -> bool:
        return (
            failure.code == self.code
            and failure.status is not None
            and operation.operation_id in self.statuses.get(failure.status, frozenset())
            and self.details(failure)
        )


EVERY_OPERATION = frozenset({"listAllSecrets", "createSecret", "getSecret", "updateSecret", "deleteSecret"})
WITH_A_BODY = frozenset({"createSecret", "updateSecret"})
VALIDATED = frozenset({"listAllSecrets", "createSecret", "updateSecret"})


def paging_message(failure: Failure) -> bool:
    return "in query" in failure.message and (
        "`required`" in failure.message or "`additionalProperties`" in failure.message
    )


def validation_message(failure: Failure) -> bool:
    return failure.response_message.startswith(VALIDATION_MESSAGES)


# Name and explanation as in the README.
DELIBERATE: tuple[Deliberate, ...] = (
    Deliberate(
        "documented statuses",
        "401, 403, 409, 413, 500 and 503, which the upstream document does not list",
        code="ST103",
        statuses={
            401: EVERY_OPERATION,
            403: EVERY_OPERATION,
            409: frozenset({"createSecret"}),
            413: WITH_A_BODY,
            500: EVERY_OPERATION,
            503: EVERY_OPERATION,
        },
    ),
    Deliberate(
        "optional paging",
        "page and pageSize may be omitted (defaults 0 and 250); unknown query parameters are ignored",
        code="ST201",
        statuses={200: frozenset({"listAllSecrets"})},
        details=paging_message,
    ),
    Deliberate(
        "validation limits",
        "values the upstream schemas allow but the service refuses with a 400 naming the field: tags outside "
        "[A-Za-z0-9_-]{1,100}, names that are blank or hide characters (outer white space, controls, "
        "invisible formatting), empty or over-64-KiB secrets, paging out of range, strings that are not valid "
        "Unicode",
        code="ST202",
        statuses={400: VALIDATED},
        details=validation_message,
    ),
    Deliberate(
        "body size limit",
        "bodies over 400 KiB, which the service refuses with 413",
        code="ST202",
        statuses={413: WITH_A_BODY},
    ),
)


# --- the report ------------------------------------------------------------------


@dataclass
class Report:
    """What one run's NDJSON report says."""

    finished: bool = False
    failures: list[Failure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Response statuses by operation label.
    statuses: dict[str, Counter[int]] = field(default_factory=dict)


def read_report(lines: Iterable[str]) -> Report:
    report = Report()
    for line in lines:
        if not line.strip():
            continue
        event: dict[str, Any] = json.loads(line)
        for kind, body in event.items():
            if kind == "EngineFinished":
                report.finished = True
            elif kind in ERROR_EVENTS:
                report.errors.append(f"{kind}: {json.dumps(body)[:600]}")
            elif kind == "ScenarioFinished":
                read_scenario(body.get("recorder") or {}, report)
    return report


def read_scenario(scenario: dict[str, Any], report: Report) -> None:
    cases: dict[str, Any] = scenario.get("cases") or {}
    interactions: dict[str, Any] = scenario.get("interactions") or {}
    replayed_ids = replayed_secret_ids(interactions)
    for case_id, interaction in interactions.items():
        case = (cases.get(case_id) or {}).get("value") or {}
        response = interaction.get("response") or {}
        request = interaction.get("request") or {}
        # Credited to the case's operation only when sent with its method
        # (some checks send other methods to the same path).
        if "status_code" in response and case.get("method") == request.get("method"):
            label = f"{case.get('method')} {case.get('path')}"
            report.statuses.setdefault(label, Counter())[int(response["status_code"])] += 1
    for case_id, checks in (scenario.get("checks") or {}).items():
        for check in checks:
            if check.get("status") != "failure":
                continue
            failure = check["failure_info"]["failure"]
            # A check's failure is recorded under the case it checked, whichever
            # operation it names: for a lost resource (ST302) the request that
            # got the 404, named by itself or (schemathesis 4) by the create
            # whose id it was sent with. Either way its path holds that id.
            interaction = interactions.get(case_id) or {}
            response = interaction.get("response") or {}
            report.failures.append(
                Failure(
                    code=failure["code"],
                    operation=failure["operation"],
                    message=failure.get("message") or "",
                    status=response.get("status_code"),
                    response_message=response_message(response),
                    addressed=addressed_secret((cases.get(case_id) or {}).get("value") or {}, interaction),
                    replayed_ids=replayed_ids,
                )
            )


def replayed(interaction: dict[str, Any]) -> bool:
    """Whether an interaction is a create answered from its Idempotency-Key."""
    headers = (interaction.get("response") or {}).get("headers") or {}
    return any(name.lower() == "idempotent-replayed" for name in headers)


def replayed_secret_ids(interactions: Mapping[str, Any]) -> frozenset[str]:
    """The ids that creates answered from their Idempotency-Key answered with."""
    ids = set()
    for interaction in interactions.values():
        if replayed(interaction):
            secret_id = response_body(interaction.get("response") or {}).get("id")
            if isinstance(secret_id, str) and secret_id:
                ids.add(secret_id)
    return frozenset(ids)


SECRET_PATH = re.compile(r"/api/v1/secrets/([^/?#]+)")


def addressed_secret(case: Mapping[str, Any], interaction: Mapping[str, Any]) -> str | None:
    """The {tagOrId} a request was sent with: from its case's path
    parameters, or else from the path it was sent to."""
    parameters = case.get("path_parameters") or {}
    value = parameters.get("tagOrId") if isinstance(parameters, dict) else None
    if isinstance(value, str) and value:
        return value
    uri = str((interaction.get("request") or {}).get("uri") or "")
    found = SECRET_PATH.search(urlsplit(uri).path)
    return unquote(found.group(1)) if found else None


def response_body(response: Mapping[str, Any]) -> dict[str, Any]:
    content = response.get("content") or {}
    try:
        body = json.loads(base64.b64decode(content.get("$base64", "")) or b"{}")
    except (ValueError, TypeError):
        return {}
    return body if isinstance(body, dict) else {}


def response_message(response: Mapping[str, Any]) -> str:
    return str(response_body(response).get("message", ""))


# --- the verdict -----------------------------------------------------------------


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    deliberate: Counter[str] = field(default_factory=Counter)


# Our own document's one: behaviour README.md documents ("Idempotent create"),
# which schemathesis' stateful check takes for a lost resource.
OURS_DELIBERATE: tuple[Deliberate, ...] = (
    Deliberate(
        "replayed create of a deleted secret",
        "a create retried with its Idempotency-Key answers the first create's secret even when it has been "
        "deleted since (nothing is created again), so a get of it is a 404",
        code="ST302",
        # schemathesis names the operation that could not find it, or, in
        # some runs, the create that answered with it. In both, the request
        # that got the 404 must have addressed the very secret a replayed
        # create of its sequence answered with (its id: the links pass ids).
        statuses={404: frozenset({"createSecret", "getSecret", "updateSecret", "deleteSecret", "listSecretVersions"})},
        details=lambda failure: failure.addressed is not None and failure.addressed in failure.replayed_ids,
    ),
)


def judge(
    exit_code: int, output: str, report: Report, document: Mapping[str, Any], deliberate: Sequence[Deliberate]
) -> Verdict:
    """Everything wrong with one run; with `deliberate` empty, any failure is."""
    verdict = Verdict()
    problems = verdict.problems
    operations = operations_of(document)
    if exit_code not in (EXIT_OK, EXIT_FAILURES):
        problems.append(f"schemathesis exited with code {exit_code}: neither a clean run (0) nor failed checks (1)")
    if not report.finished:
        problems.append("the report has no EngineFinished event: the run did not finish")
    if exit_code == EXIT_OK and (report.failures or report.errors):
        problems.append(
            f"schemathesis exited 0, yet its report holds {len(report.failures)} failure(s) "
            f"and {len(report.errors)} error(s)"
        )
    if exit_code == EXIT_FAILURES and not report.failures and not report.errors:
        problems.append("schemathesis exited 1, yet its report holds no failure and no error to account for it")
    problems.extend(f"schemathesis error: {error}" for error in report.errors)
    if "Network Error" in output or re.search(r"\b[1-9][0-9]* errored", output):
        problems.append("schemathesis' output reports errors")
    for failure in report.failures:
        operation = operations.get(failure.operation)
        kind = next((d.name for d in deliberate if operation and d.matches(failure, operation)), None)
        if kind is None:
            problems.append(f"failure: {failure.describe()}")
        else:
            verdict.deliberate[kind] += 1
    for operation in operations.values():
        statuses = report.statuses.get(operation.label, Counter())
        if operation.operation_id in SUCCESS_NEEDS_STATE:
            # Tried, and refused as the state it met requires: never a 5xx.
            if not statuses or any(status >= 500 for status in statuses):
                seen = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items())) or "none"
                problems.append(f"{operation.operation_id} ({operation.label}): not tried, or a 5xx ({seen})")
            continue
        if not any(200 <= status < 300 for status in statuses):
            seen = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items())) or "none"
            problems.append(
                f"{operation.operation_id} ({operation.label}): no 2xx response in the run (responses seen: {seen})"
            )
    return verdict


# --- the runs --------------------------------------------------------------------


def report_options(report: Path) -> list[str]:
    """How every run executes and reports: one worker, nothing remembered
    between runs, and the NDJSON report that read_report reads."""
    return [
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]


def run(document: Path, base_url: str, token: str, report: Path) -> tuple[int, str]:
    WORKDIR.mkdir(parents=True, exist_ok=True)
    # Never read an earlier run's report.
    report.unlink(missing_ok=True)
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        str(document),
        "--url",
        base_url,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        SEED,
        "--request-timeout",
        "30",
        *report_options(report),
    ]
    # Run from a scratch directory: schemathesis and hypothesis leave files
    # in the working directory.
    result = subprocess.run(command, cwd=WORKDIR, capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


def summary(output: str) -> list[str]:
    keep = ("Test cases:", "generated", "No issues found", "failures in", "failure in", "Seed:")
    return [line.strip() for line in output.splitlines() if any(k in line for k in keep)]


def conformance_run(
    name: str, title: str, document_path: Path, base_url: str, token: str, deliberate: Sequence[Deliberate]
) -> Verdict:
    report_path = WORKDIR / f"{name}.ndjson"
    code, output = run(document_path, base_url, token, report_path)
    print(f"schemathesis, {title}:", *summary(output), sep="\n  ")
    if report_path.exists():
        report = read_report(report_path.read_text().splitlines())
    else:
        report = Report(errors=[f"no report was written ({report_path.relative_to(ROOT)})"])
    verdict = judge(code, output, report, load_document(document_path), deliberate)
    for operation, statuses in sorted(report.statuses.items()):
        print(f"  {operation}: " + ", ".join(f"{status} x{count}" for status, count in sorted(statuses.items())))
    for difference in deliberate:
        count = verdict.deliberate[difference.name]
        print(f"  deliberate difference, {difference.name}: {count} failing case(s) ({difference.explanation})")
    if verdict.problems:
        print(output)
        for problem in verdict.problems:
            print(f"  UNEXPECTED: {problem}")
    return verdict


def main() -> int:
    if len(sys.argv) != 2 or "CONFORMANCE_TOKEN" not in os.environ:
        print("usage: CONFORMANCE_TOKEN=... python -m tools.checks.conformance BASE_URL", file=sys.stderr)
        return 2
    base_url, token = sys.argv[1], os.environ["CONFORMANCE_TOKEN"]
    WORKDIR.mkdir(parents=True, exist_ok=True)
    if conformance_run("ours", "our document", OURS, base_url, token, OURS_DELIBERATE).problems:
        print(f"FAILED: the service does not conform to {OURS.relative_to(ROOT)}")
        return 1
    if conformance_run("upstream", "upstream contract unchanged", UPSTREAM, base_url, token, DELIBERATE).problems:
        print("FAILED: differences from the upstream contract that are not deliberate, or a run that proves little")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
