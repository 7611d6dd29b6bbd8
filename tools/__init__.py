"""The project's Python tooling, run from the repository root as modules
(`python -m tools.local_stack.devstack run`, `python -m tools.checks.template`).

- tools.local_stack: the local stack (moto, `cargo lambda watch`, the API
  Gateway stand-in) that `make run` and `make test` start.
- tools.checks: offline checks of template.yaml and the OpenAPI document, and
  the schemathesis conformance runs.
- tools.bench: the `make bench` launcher.
"""

from pathlib import Path

# The repository root: every tool reads and writes paths relative to it.
ROOT = Path(__file__).resolve().parent.parent
