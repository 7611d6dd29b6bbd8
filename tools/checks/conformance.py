"""Property-based conformance runs with schemathesis against a running stack.

1. With our document (openapi/cortex-secrets.json): every check must pass,
   stateful sequences (create, then get/update/delete what was created)
   included.
2. With the upstream contract, unchanged: every failure must be one of the
   deliberate differences below, each of which the README lists.

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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tools import ROOT

OURS = ROOT / "openapi" / "cortex-secrets.json"
UPSTREAM = ROOT / "openapi" / "upstream" / "cortex-secrets-openapi.json"
CONFIG = ROOT / "openapi" / "schemathesis.toml"
WORKDIR = ROOT / ".local" / "schemathesis"
SCHEMATHESIS = ROOT / ".venv" / "bin" / "schemathesis"
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261126")
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "50")

VALIDATION_MESSAGES = ("tag ", "name ", "secret ", "page ", "pageSize ", "request body is not valid JSON")


# name, explanation (as in the README), and what a failure of that kind looks like.
DELIBERATE: list[tuple[str, str, Callable[[dict[str, Any]], bool]]] = [
    (
        "documented statuses",
        "401, 403, 409, 413, 500 and 503, which the upstream document does not list",
        lambda f: f["code"] == "ST103" and f["status"] in (401, 403, 409, 413, 500, 503),
    ),
    (
        "optional paging",
        "page and pageSize may be omitted (defaults 0 and 250); unknown query parameters are ignored",
        lambda f: (
            f["code"] == "ST201"
            and f["status"] == 200
            and "in query" in f["message"]
            and ("`required`" in f["message"] or "`additionalProperties`" in f["message"])
        ),
    ),
    (
        "validation limits",
        "values the upstream schemas allow but the service refuses with a 400 naming the field: tags outside "
        "[A-Za-z0-9_-]{1,100}, blank or control-character names, empty or over-64-KiB secrets, paging out of "
        "range, strings that are not valid Unicode",
        lambda f: f["code"] == "ST202" and f["status"] == 400 and f["response_message"].startswith(VALIDATION_MESSAGES),
    ),
    (
        "body size limit",
        "bodies over 400 KiB, which the service refuses with 413",
        lambda f: f["code"] == "ST202" and f["status"] == 413,
    ),
]


def run(document: Path, base_url: str, token: str, report: Path) -> tuple[int, str]:
    WORKDIR.mkdir(parents=True, exist_ok=True)
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
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    # Run from a scratch directory: schemathesis and hypothesis leave files
    # in the working directory.
    result = subprocess.run(command, cwd=WORKDIR, capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


def failures(report: Path) -> Iterator[dict[str, Any]]:
    for line in report.read_text().splitlines():
        event = json.loads(line)
        scenario = event.get("ScenarioFinished", {}).get("recorder")
        if not scenario:
            continue
        for case_id, checks in scenario.get("checks", {}).items():
            for check in checks:
                if check["status"] != "failure":
                    continue
                failure = check["failure_info"]["failure"]
                response = (scenario.get("interactions", {}).get(case_id) or {}).get("response") or {}
                yield {
                    "code": failure["code"],
                    "operation": failure["operation"],
                    "message": failure["message"],
                    "status": response.get("status_code"),
                    "response_message": response_message(response),
                }


def response_message(response: dict[str, Any]) -> str:
    content = response.get("content") or {}
    try:
        body = json.loads(base64.b64decode(content.get("$base64", "")) or b"{}")
        return str(body.get("message", "")) if isinstance(body, dict) else ""
    except (ValueError, TypeError):
        return ""


def summary(output: str) -> list[str]:
    keep = ("Test cases:", "generated", "No issues found", "failures in", "failure in", "Seed:")
    return [line.strip() for line in output.splitlines() if any(k in line for k in keep)]


def main() -> int:
    base_url, token = sys.argv[1], os.environ["CONFORMANCE_TOKEN"]
    WORKDIR.mkdir(parents=True, exist_ok=True)

    code, output = run(OURS, base_url, token, WORKDIR / "ours.ndjson")
    print("schemathesis, our document:", *summary(output), sep="\n  ")
    if code != 0:
        print(output)
        print("FAILED: the service does not conform to openapi/cortex-secrets.json")
        return 1

    _, output = run(UPSTREAM, base_url, token, WORKDIR / "upstream.ndjson")
    print("schemathesis, upstream contract unchanged:", *summary(output), sep="\n  ")
    counts = {name: 0 for name, _, _ in DELIBERATE}
    unexpected = []
    for failure in failures(WORKDIR / "upstream.ndjson"):
        kind = next((name for name, _, matches in DELIBERATE if matches(failure)), None)
        if kind is None:
            unexpected.append(failure)
        else:
            counts[kind] += 1
    for name, explanation, _ in DELIBERATE:
        print(f"  deliberate difference, {name}: {counts[name]} failing case(s) ({explanation})")
    if "Network Error" in output or re.search(r"\b[1-9][0-9]* errored", output):
        unexpected.append({"code": "error", "message": "schemathesis reported errors", "output": output})
    for failure in unexpected:
        print(f"  UNEXPECTED: {json.dumps(failure)[:600]}")
    if unexpected:
        print("FAILED: differences from the upstream contract that are not deliberate")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
