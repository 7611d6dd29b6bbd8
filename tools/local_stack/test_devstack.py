"""The local stack's own logic, checked without starting it. Run by `make test`."""

from __future__ import annotations

import tomllib
import unittest

from tools import ROOT
from tools.local_stack import devstack


class WarmUp(unittest.TestCase):
    def test_every_route_and_method_of_the_router_table_is_warmed_up(self) -> None:
        router = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["metadata"]["lambda"]["watch"]["router"]
        expected = sorted(
            (target["method"], path.replace("{tagOrId}", "warm-up"))
            for path, targets in router.items()
            for target in targets
        )
        routes = devstack.warm_up_routes()
        self.assertEqual(sorted(routes), expected)
        self.assertEqual(len(routes), 5, "five functions behind the router")
        self.assertFalse(any("{" in path for _, path in routes), routes)


if __name__ == "__main__":
    unittest.main()
