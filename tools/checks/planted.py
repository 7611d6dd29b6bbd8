"""The harness of the planted-fault tests of a template rule module: each
test plants one fault in a copy of template.yaml, and the module's check,
run on the transformed copy, must name it. Subclass `PlantedFaults` (import
this module, not the class, so that test discovery does not collect the
base) and give it `violations`."""

from __future__ import annotations

import copy
import unittest
from collections.abc import Callable, Iterable
from typing import Any

from tools.checks import template as check_template

SAM = check_template.load_sam()

Plant = Callable[[dict[str, Any]], None]


class PlantedFaults(unittest.TestCase):
    def violations(self, cfn: dict[str, Any]) -> Iterable[str]:
        """The rule module's check of a transformed template."""
        raise NotImplementedError

    def caught(self, plant: Plant) -> list[str]:
        sam = copy.deepcopy(SAM)
        plant(sam)
        return list(self.violations(check_template.transform(sam)))

    def assert_caught(self, plant: Plant, expected: str) -> None:
        found = self.caught(plant)
        self.assertTrue(any(expected in violation for violation in found), f"{expected!r} not in {found}")

    def test_the_template_as_committed_passes(self) -> None:
        self.assertEqual(self.caught(lambda sam: None), [])
