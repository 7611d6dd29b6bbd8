"""Planted faults for tools/checks/operators.py."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from tools.checks import planted
from tools.checks import template as check_template
from tools.checks.operators import check_operator_policies

MANIFEST = check_template.load_manifest()
POLICY = "RepublishChangesPolicy"


def statements(sam: dict[str, Any]) -> list[dict[str, Any]]:
    document: dict[str, Any] = sam["Resources"][POLICY]["Properties"]["PolicyDocument"]
    found: list[dict[str, Any]] = document["Statement"]
    return found


def statement(sam: dict[str, Any], action: str) -> dict[str, Any]:
    return next(s for s in statements(sam) if action in s["Action"])


class PlantedFaults(planted.PlantedFaults):
    def violations(self, cfn: dict[str, Any]) -> Iterable[str]:
        return check_operator_policies(cfn, MANIFEST)

    def test_an_action_the_command_does_not_make(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement(sam, "sqs:ReceiveMessage")["Action"].append("sqs:PurgeQueue")

        self.assert_caught(plant, f"{POLICY}: holds sqs:PurgeQueue on ChangeEventsFailedQueue")

    def test_an_action_it_lacks(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement(sam, "sqs:ReceiveMessage")["Action"].remove("sqs:ChangeMessageVisibility")

        self.assert_caught(plant, f"{POLICY}: lacks sqs:ChangeMessageVisibility on ChangeEventsFailedQueue")

    def test_stream_reads_on_the_table_or_everywhere(self) -> None:
        for resource, named in (({"Fn::GetAtt": ["AuditTable", "Arn"]}, "AuditTable"), ("*", "*")):

            def plant(sam: dict[str, Any], resource: Any = resource) -> None:
                statement(sam, "dynamodb:GetRecords")["Resource"] = resource

            self.assert_caught(plant, f"{POLICY}: holds dynamodb:GetRecords on {named}")
            self.assert_caught(plant, f"{POLICY}: lacks dynamodb:GetRecords on AuditTable.StreamArn")

    def test_put_events_for_any_source(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del statement(sam, "events:PutEvents")["Condition"]

        self.assert_caught(plant, f"{POLICY}: events:PutEvents only with events:source cortex.secrets")

    def test_a_deny_or_a_not_action(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statements(sam).append({"Effect": "Allow", "NotAction": ["kms:Decrypt"], "Resource": "*"})

        self.assert_caught(plant, f"{POLICY}: Allow statements of Action and Resource only")

    def test_attached_by_the_template(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"][POLICY]["Properties"]["Roles"] = [{"Ref": "PublishChangesRole"}]

        self.assert_caught(plant, f"{POLICY}: attached by the template (Roles)")

    def test_a_listed_policy_the_template_lacks(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"][POLICY]

        self.assert_caught(plant, f"{POLICY}: deploy/function-permissions.json lists it under operators")

    def test_the_manifest_names_what_the_template_must_grant(self) -> None:
        manifest = copy.deepcopy(MANIFEST)
        manifest["operators"][POLICY]["ChangeEventsFailedQueue"].append("sqs:SendMessage")
        cfn = check_template.transform(copy.deepcopy(planted.SAM))
        found = list(check_operator_policies(cfn, manifest))
        self.assertIn(
            f"{POLICY}: lacks sqs:SendMessage on ChangeEventsFailedQueue, which "
            "deploy/function-permissions.json names for it",
            found,
        )
