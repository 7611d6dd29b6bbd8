"""The workflow checks of `make check-workflows` are not vacuous: each fault
planted in a copy of the pipeline is reported by the tool that should
catch it (check-jsonschema with GitHub's vendored workflow schema, zizmor's
offline audits), and the committed pipeline passes both."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from tools import ROOT

PIPELINE = ROOT / ".github" / "workflows" / "pipeline.yml"
SCAN_BIN = ROOT / ".venv-scan" / "bin"
CHECKOUT = "actions/checkout@11d5960a326750d5838078e36cf38b85af677262 # v4.4.0"


def run(tool: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCAN_BIN / tool), *arguments], capture_output=True, text=True, cwd=ROOT)


class PlantedFaults(unittest.TestCase):
    def planted(self, old: str, new: str) -> Path:
        text = PIPELINE.read_text()
        self.assertIn(old, text)
        directory = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, directory)
        workflows = directory / ".github" / "workflows"
        workflows.mkdir(parents=True)
        (workflows / "pipeline.yml").write_text(text.replace(old, new, 1))
        return workflows

    def zizmor(self, workflows: Path) -> subprocess.CompletedProcess[str]:
        return run("zizmor", "--offline", "--persona", "pedantic", "--format", "plain", str(workflows))

    def test_the_committed_pipeline_passes(self) -> None:
        schema = run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(PIPELINE))
        self.assertEqual(schema.returncode, 0, schema.stdout + schema.stderr)
        audit = self.zizmor(PIPELINE.parent)
        self.assertEqual(audit.returncode, 0, audit.stdout + audit.stderr)

    def test_an_action_pinned_by_tag(self) -> None:
        audit = self.zizmor(self.planted(CHECKOUT, "actions/checkout@v4"))
        self.assertNotEqual(audit.returncode, 0)
        self.assertIn("unpinned-uses", audit.stdout + audit.stderr)

    def test_an_expression_expanded_in_a_shell(self) -> None:
        workflows = self.planted("      - run: ./.ci/run", '      - run: echo "${{ github.event.pull_request.title }}"')
        audit = self.zizmor(workflows)
        self.assertNotEqual(audit.returncode, 0)
        self.assertIn("template-injection", audit.stdout + audit.stderr)

    def test_a_key_github_does_not_know(self) -> None:
        workflows = self.planted("    runs-on: ubuntu-24.04\n    timeout-minutes: 90", "    runs_on: ubuntu-24.04")
        schema = run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(workflows / "pipeline.yml"))
        self.assertNotEqual(schema.returncode, 0, schema.stdout)


if __name__ == "__main__":
    unittest.main()
