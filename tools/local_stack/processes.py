"""The processes of the local stack: started in process groups of their
own and stopped together, with all their descendants, however the run ends;
and the ports and environment they run with."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from tools import ROOT

HOST = "127.0.0.1"
VENV_BIN = ROOT / ".venv" / "bin"


def log(message: str) -> None:
    print(f"[devstack] {message}", file=sys.stderr, flush=True)


class Stack:
    """Processes started by this script, stopped together however we exit."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.cleanups: list[Callable[[], None]] = []
        self.stopping = False
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def start(
        self, name: str, command: list[str], env: dict[str, str], log_path: Path | None
    ) -> subprocess.Popen[bytes]:
        with contextlib.ExitStack() as closing:
            # The child writes to its own copy of the descriptor; ours is
            # closed once it is started.
            output = closing.enter_context(log_path.open("wb")) if log_path else None
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                start_new_session=True,
            )
        log(f"started {name} (pid {process.pid})" + (f", log: {log_path.relative_to(ROOT)}" if log_path else ""))
        self.processes.append(process)
        return process

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for cleanup in reversed(self.cleanups):
            cleanup()
        for process in reversed(self.processes):
            tree = [process.pid, *descendants(process.pid)]
            for sig in (signal.SIGTERM, signal.SIGKILL):
                for pid in tree:
                    signal_process_and_group(pid, sig)
                if wait_gone(tree, timeout_s=10):
                    break
            process.poll()
        log("stopped everything it started")


def descendants(pid: int) -> list[int]:
    """All live descendants of `pid`, whatever process group they moved to."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def signal_process_and_group(pid: int, sig: int) -> None:
    for send in (lambda: os.killpg(pid, sig), lambda: os.kill(pid, sig)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            send()


def wait_gone(pids: list[int], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":  # a zombie child of ours: reap it
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) == 0


def tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def exit_code(
    run: Callable[[], object],
    failures: tuple[type[Exception], ...] = (),
    report: Callable[[str], None] = log,
) -> int:
    """The exit code of a command-line tool running `run`: 0; 1 after
    reporting what failed (a command by its command line, one of `failures`
    by its message); 130 on Ctrl-C. Cleanup is the caller's `finally`."""
    try:
        run()
        return 0
    except subprocess.CalledProcessError as error:
        report(f"failed: {' '.join(map(str, error.cmd))}")
        return 1
    except failures as error:
        report(f"failed: {error}")
        return 1
    except KeyboardInterrupt:
        return 130
