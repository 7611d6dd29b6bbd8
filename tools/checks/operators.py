"""The operators' managed policies (deploy/function-permissions.json,
`operators`; part of `python -m tools.checks.template`): each policy the
manifest lists is a managed policy of the template granting exactly the
actions on exactly the resources listed, with Allow statements only, its
`events:PutEvents` only for the source `cortex.secrets`, and attached to
no one by the template (an account's operators attach it to the role they
assume). tests/adapters holds each ops/ command to its policy's actions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tools.checks.change_events import SOURCE
from tools.checks.template import MANIFEST, ROOT, as_list, resource_name

MANAGED_POLICY = "AWS::IAM::ManagedPolicy"


def check_operator_policies(cfn: dict[str, Any], manifest: dict[str, Any]) -> Iterator[str]:
    listed = MANIFEST.relative_to(ROOT)
    resources = cfn.get("Resources", {})
    for name, placement in sorted(manifest.get("operators", {}).items()):
        policy = resources.get(name, {})
        if policy.get("Type") != MANAGED_POLICY:
            yield f"{name}: {listed} lists it under operators, but the template has no such managed policy"
            continue
        properties = policy.get("Properties", {})
        for attachment in ("Roles", "Users", "Groups"):
            if properties.get(attachment):
                yield f"{name}: attached by the template ({attachment}); operators attach it to the role they assume"
        held: set[tuple[str, str]] = set()
        for statement in as_list(properties.get("PolicyDocument", {}).get("Statement", [])):
            if statement.get("Effect") != "Allow" or {"NotAction", "NotResource"} & set(statement):
                yield f"{name}: Allow statements of Action and Resource only"
                continue
            actions = {str(action) for action in as_list(statement.get("Action", []))}
            scope = as_list(statement.get("Resource", []))
            held |= {(resource_name(resource), action) for resource in scope for action in actions}
            source = statement.get("Condition", {}).get("StringEquals", {}).get("events:source")
            if "events:PutEvents" in actions and source != SOURCE:
                yield f"{name}: events:PutEvents only with events:source {SOURCE}"
        expected = {(resource, str(action)) for resource, actions in placement.items() for action in actions}
        for resource, action in sorted(expected - held):
            yield f"{name}: lacks {action} on {resource}, which {listed} names for it"
        for resource, action in sorted(held - expected):
            yield f"{name}: holds {action} on {resource}, which {listed} does not name for it"
