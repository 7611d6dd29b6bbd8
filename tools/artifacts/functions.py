"""A built function as Lambda runs it: its `bootstrap`, unchanged, started
with nothing but its deployed environment, polling its own Runtime API.

The binaries are arm64; qemu-aarch64 runs them on any host. `-L` gives a
dynamically linked one the arm64 glibc and loader (libc6-arm64-cross) in
place of the image's; for a static one it changes nothing. Output (stdout
and stderr together, as CloudWatch gets both) goes to a log file, from which
the metric records are read.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.artifacts.runtime_api import Outcome, RuntimeApi
from tools.local_stack.processes import Stack

EM_AARCH64 = 183
PT_INTERP = 3
# provided.al2023's glibc. qemu's -L lends a newer one (Debian's cross
# glibc), which would run a binary that Lambda's cannot load.
RUNTIME_GLIBC = (2, 34)
GLIBC_VERSION = re.compile(rb"GLIBC_(\d+)\.(\d+)(?:\.\d+)?\0")
POLL_INTERVAL_S = 0.2
OUTPUT_TAIL_LINES = 40


class FunctionFailed(Exception):
    pass


@dataclass(frozen=True)
class Binary:
    path: Path
    interpreter: str | None
    glibc: tuple[int, int] | None

    @property
    def linking(self) -> str:
        if not self.interpreter:
            return "statically linked"
        needs = f", needs glibc {self.glibc[0]}.{self.glibc[1]}" if self.glibc else ""
        return f"dynamically linked ({self.interpreter}{needs})"


def inspect_binary(path: Path) -> Binary:
    """What `file` would say of it, the parts that matter: a 64-bit
    little-endian arm64 ELF executable, and its loader if it has one."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise FunctionFailed(f"{path}: not a 64-bit little-endian ELF file")
    (machine,) = struct.unpack_from("<H", data, 18)
    if machine != EM_AARCH64:
        raise FunctionFailed(f"{path}: built for ELF machine {machine}, not arm64 ({EM_AARCH64})")
    (program_headers,) = struct.unpack_from("<Q", data, 32)
    entry_size, entries = struct.unpack_from("<HH", data, 54)
    interpreter = None
    for index in range(entries):
        header = program_headers + index * entry_size
        (kind,) = struct.unpack_from("<I", data, header)
        if kind == PT_INTERP:
            (offset,), (size,) = struct.unpack_from("<Q", data, header + 8), struct.unpack_from("<Q", data, header + 32)
            interpreter = data[offset : offset + size].rstrip(b"\0").decode()
    # The version names a dynamic binary needs are strings of its .dynstr.
    versions = [(int(major), int(minor)) for major, minor in GLIBC_VERSION.findall(data)]
    glibc = max(versions) if interpreter and versions else None
    if glibc and glibc > RUNTIME_GLIBC:
        raise FunctionFailed(
            f"{path}: needs glibc {glibc[0]}.{glibc[1]}; provided.al2023 has {RUNTIME_GLIBC[0]}.{RUNTIME_GLIBC[1]}"
        )
    return Binary(path, interpreter, glibc)


class Function:
    def __init__(self, logical_id: str, name: str, api: RuntimeApi, log_path: Path, timeout_s: float) -> None:
        self.logical_id = logical_id
        self.name = name
        self.api = api
        self.log_path = log_path
        self.timeout_s = timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self, stack: Stack, binary: Binary, env: dict[str, str], qemu: str, sysroot: str) -> None:
        command = [qemu, "-L", sysroot, str(binary.path)]
        self.started_at = time.monotonic()
        self.process = stack.start(self.logical_id, command, env, self.log_path)

    def wait_started(self, timeout_s: float) -> float:
        """Seconds from its start to its first `next` poll (under qemu, far
        from Lambda's cold start); fails if it exits, reports an init
        error, or does not poll within `timeout_s` of its start."""
        while not self.api.wait_for_poll(POLL_INTERVAL_S):
            self.check_alive("while starting")
            if time.monotonic() - self.started_at > timeout_s:
                raise FunctionFailed(f"{self.logical_id} did not poll for an event within {timeout_s:.0f} s")
        return self.api.polls[0] - self.started_at

    def outcome(self, event: Any) -> Outcome:
        """What the function posted for `event`, a payload or a function
        error. An exit or no answer within its timeout fails."""
        invocation = self.api.invoke(json.dumps(event).encode())
        deadline = time.monotonic() + self.timeout_s
        outcome: Outcome | None = None
        while outcome is None:
            outcome = invocation.wait(POLL_INTERVAL_S)
            if outcome is None:
                self.check_alive("during an invocation")
                if time.monotonic() > deadline:
                    raise FunctionFailed(f"{self.logical_id} did not answer within its {self.timeout_s:.0f} s timeout")
        return outcome

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """The function's response payload to `event`: an API Gateway proxy
        response. A function error fails too."""
        outcome = self.outcome(event)
        if outcome.error:
            # The error document holds a type and a message, never a value;
            # still, its type and size say enough.
            raise FunctionFailed(
                f"{self.logical_id} answered with a function error ({outcome.error_type or 'no type'}, "
                f"{len(outcome.payload)} bytes)\n{self.output_tail()}"
            )
        payload: dict[str, Any] = json.loads(outcome.payload)
        return payload

    def check_alive(self, when: str) -> None:
        if self.api.init_errors:
            error = self.api.init_errors[0]
            kind = error.error_type or "no type"
            raise FunctionFailed(f"{self.logical_id} reported an init error ({kind}) {when}\n{self.output_tail()}")
        code = self.process.poll() if self.process else None
        if code is not None:
            raise FunctionFailed(f"{self.logical_id} exited with code {code} {when}\n{self.output_tail()}")

    def output_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []

    def output_tail(self) -> str:
        """Its last lines of output (its logs carry no value or token, by
        design: docs/design.md, "Logs")."""
        lines = self.output_lines()[-OUTPUT_TAIL_LINES:]
        shown = "\n".join(f"    {line}" for line in lines) if lines else "    (no output)"
        return f"  {self.log_path.name}, last {len(lines)} lines:\n{shown}"

    def metric_records(self) -> list[dict[str, Any]]:
        """Its EMF records: JSON lines on stdout with `_aws.CloudWatchMetrics`."""
        records = []
        for line in self.output_lines():
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "CloudWatchMetrics" in (record.get("_aws") or {}):
                records.append(record)
        return records
