"""`make bench`: builds the functions and the floors, starts a fresh emulator,
and runs the bench (bench/driver/src/main.rs), which prints the table and writes
target/bench/report.json.

    python -m tools.bench [--requests N] [--scale N] [--no-build]

Builds: native release binaries to run and time, and arm64 release binaries
(cargo lambda, as deployed) to weigh. Both with the release profile.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from tools import ROOT
from tools.local_stack.devstack import (
    AUDIT_TABLE,
    KEY_ALIAS,
    LOCAL,
    MAC_KEY_ALIAS,
    TABLE,
    aws_env,
    bootstrap,
    start_moto,
)
from tools.local_stack.gateway import load_routes
from tools.local_stack.processes import Stack, exit_code, free_port, log, tool_env

FLOORS = ["floor-hello", "floor-clients"]
# Invoked by a measured function, not measured on its own: a restore's
# reseal, through the driver's Invoke API.
INVOKED = ["reseal-secret"]


def measured_functions() -> list[str]:
    """The functions the bench drives with API Gateway events: those behind
    a route (the router in Cargo.toml, which a test holds to the one table
    of functions; the driver takes the same set from that table)."""
    return sorted({function for _, _, targets in load_routes() for function in targets.values()})


def bins(names: list[str]) -> list[str]:
    return [argument for name in names for argument in ("--bin", name)]


def build() -> None:
    started = time.monotonic()
    targets = bins(measured_functions() + INVOKED + FLOORS)
    log("building the arm64 release binaries, as deployed, to weigh them")
    subprocess.run(
        ["cargo", "lambda", "build", "--release", "--arm64", "--locked", *targets], cwd=ROOT, env=tool_env(), check=True
    )
    log("building the native release binaries, to run them")
    # floor-get-item only runs: its CPU is the floor of one DynamoDB call.
    subprocess.run(
        ["cargo", "build", "--release", "--locked", *targets, *bins(["floor-get-item"])],
        cwd=ROOT,
        env=tool_env(),
        check=True,
    )
    # On its own: built with the functions, its test-support features
    # would be unified into theirs. In the release profile all the same:
    # it reuses most of what the functions' build compiled.
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "-p", "secrets-bench"], cwd=ROOT, env=tool_env(), check=True
    )
    log(f"built in {time.monotonic() - started:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="requests per measured operation")
    parser.add_argument("--scale", type=int, default=100_000, help="secrets in the large tenant")
    parser.add_argument(
        "--import-secrets", type=int, default=5000, help="secrets each bulk import creates (100 clients at once)"
    )
    parser.add_argument("--no-build", action="store_true", help="use the binaries already built")
    args = parser.parse_args()
    LOCAL.mkdir(exist_ok=True)
    if not args.no_build:
        build()
    stack = Stack()
    try:
        return exit_code(lambda: measure(args, stack))
    finally:
        stack.stop()


def measure(args: argparse.Namespace, stack: Stack) -> None:
    """The emulator, seeded, and the bench driver against it."""
    moto_port = free_port()
    start_moto(stack, moto_port)
    bootstrap(moto_port)
    env = {
        **tool_env(),
        **aws_env(moto_port),
        "TABLE_NAME": TABLE,
        "AUDIT_TABLE_NAME": AUDIT_TABLE,
        "KMS_KEY_ID": KEY_ALIAS,
        "IDEMPOTENCY_MAC_KEY_ID": MAC_KEY_ALIAS,
        "BENCH_BIN_DIR": str(ROOT / "target" / "release"),
        "BENCH_ARM64_DIR": str(ROOT / "target" / "lambda"),
        "BENCH_OUTPUT": str(ROOT / "target" / "bench" / "report.json"),
        "BENCH_REQUESTS": str(args.requests),
        "BENCH_SCALE": str(args.scale),
        "BENCH_IMPORT": str(args.import_secrets),
    }
    started = time.monotonic()
    subprocess.run([str(ROOT / "target" / "release" / "bench")], cwd=ROOT, env=env, check=True)
    log(f"measured in {time.monotonic() - started:.0f} s; JSON: target/bench/report.json")


if __name__ == "__main__":
    sys.exit(main())
