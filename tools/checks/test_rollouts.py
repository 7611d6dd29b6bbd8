"""The rollout check catches each unwatched or unguarded deployment: one
fault planted per test in a copy of template.yaml."""

from __future__ import annotations

import unittest
from collections.abc import Iterable
from typing import Any

from tools.checks import planted
from tools.checks.rollouts import check_rollouts

FUNCTIONS = [
    f"{name}Function"
    for name in (
        "ListSecrets",
        "GetSecret",
        "CreateSecret",
        "UpdateSecret",
        "DeleteSecret",
        "ResolveSecret",
        "ResealSecret",
        "PublishChanges",
    )
]


def deployment(sam: dict[str, Any]) -> dict[str, Any]:
    preference: dict[str, Any] = sam["Globals"]["Function"]["DeploymentPreference"]
    return preference


def properties(sam: dict[str, Any], resource: str) -> dict[str, Any]:
    found: dict[str, Any] = sam["Resources"][resource]["Properties"]
    return found


class PlantedFaults(planted.PlantedFaults):
    def violations(self, cfn: dict[str, Any]) -> Iterable[str]:
        return check_rollouts(cfn)

    def test_functions_without_an_alias(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Globals"]["Function"]["AutoPublishAlias"]
            del sam["Globals"]["Function"]["DeploymentPreference"]
            for function in FUNCTIONS:
                del properties(sam, function)["DeploymentPreference"]

        found = self.caught(plant)
        self.assertIn("ResolveSecretFunction: must be published behind an alias (AutoPublishAlias)", found)
        # Without an alias, the API invokes the function itself.
        self.assertTrue(any("invokes ResolveSecretFunction itself, not its alias" in v for v in found), found)

    def test_an_alias_without_a_deployment_preference(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Globals"]["Function"]["DeploymentPreference"]
            for function in FUNCTIONS:
                del properties(sam, function)["DeploymentPreference"]

        self.assert_caught(plant, "GetSecretFunction: its alias GetSecretFunctionAliaslive must be moved by CodeDeploy")

    def test_a_rollout_all_at_once(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            deployment(sam)["Type"] = "AllAtOnce"

        self.assert_caught(plant, "CreateSecretFunction: its rollout must be gradual")

    def test_a_function_without_its_own_alarms(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["ResolveSecretErrorsAlarm"]
            properties(sam, "ResolveSecretFunction")["DeploymentPreference"]["Alarms"] = [
                {"Ref": "ResolveSecretThrottlesAlarm"}
            ]

        self.assert_caught(plant, "ResolveSecretFunction: no alarm on its Errors")

    def test_a_rollout_not_watching_its_functions_alarm(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del properties(sam, "ResolveSecretFunction")["DeploymentPreference"]

        self.assert_caught(plant, "ResolveSecretFunction: its rollout does not watch ResolveSecretThrottlesAlarm")

    def test_a_rollout_not_watching_a_shared_alarm(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            deployment(sam)["Alarms"] = [a for a in deployment(sam)["Alarms"] if a != {"Ref": "KmsThrottlesAlarm"}]

        self.assert_caught(plant, "UpdateSecretFunction: its rollout does not watch KmsThrottlesAlarm")

    def test_a_stream_consumers_rollout_not_watching_its_iterator_age(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            properties(sam, "PublishChangesFunction")["DeploymentPreference"]["Alarms"] = [
                {"Ref": "PublishChangesErrorsAlarm"},
                {"Ref": "PublishChangesThrottlesAlarm"},
            ]

        self.assert_caught(plant, "PublishChangesFunction: its rollout does not watch PublishChangesIteratorAgeAlarm")

    def test_a_rollout_watching_a_backlog(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            deployment(sam)["Alarms"].append({"Ref": "ChangeEventsFailedAlarm"})

        self.assert_caught(plant, "GetSecretFunction: its rollout must not watch ChangeEventsFailedAlarm")

    def test_an_alarm_nobody_hears(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del properties(sam, "ApiLatencyAlarm")["OKActions"]

        self.assert_caught(plant, "ApiLatencyAlarm: must notify this stack's topic (OKActions)")

    def test_an_audit_gap_without_a_metric(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["DeleteSecretAuditNotStored"]

        self.assert_caught(plant, 'DeleteSecretFunction: "audit record not stored" in its log must feed a metric')

    def test_an_audit_gap_filter_matching_another_message(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            wrong_field = '{ $.message = "audit record not stored" }'
            properties(sam, "ResolveSecretAuditNotStored")["FilterPattern"] = wrong_field

        self.assert_caught(plant, 'ResolveSecretFunction: "audit record not stored" in its log must feed a metric')

    def test_an_audit_gap_counted_as_nothing(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            properties(sam, "UpdateSecretAuditNotStored")["MetricTransformations"][0]["MetricValue"] = "0"

        self.assert_caught(plant, 'UpdateSecretFunction: "audit record not stored" in its log must feed a metric')

    def test_kms_throttles_unwatched_for_a_function_calling_kms(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            metrics = properties(sam, "KmsThrottlesAlarm")["Metrics"]
            properties(sam, "KmsThrottlesAlarm")["Metrics"] = [
                query
                for query in metrics
                if "ResolveSecretFunction" not in str(query.get("MetricStat", {}).get("Metric", {}).get("Dimensions"))
            ]

        self.assert_caught(plant, "ResolveSecretFunction: calls KMS, so an alarm must watch its KMSThrottles")


if __name__ == "__main__":
    unittest.main()
