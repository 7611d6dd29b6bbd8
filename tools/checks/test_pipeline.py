"""The pipeline check catches each kind of fault: one is planted per test
in a copy of deploy/pipeline.yaml (or samconfig.toml), and the check must
name it."""

from __future__ import annotations

import copy
import tomllib
import unittest
from collections.abc import Callable
from typing import Any

from tools.checks import pipeline as check_pipeline
from tools.checks.template import load_sam, transform

PIPELINE = check_pipeline.load()
APP = transform(load_sam())
SAMCONFIG = tomllib.loads(check_pipeline.SAMCONFIG.read_text())
GITHUB = check_pipeline.GITHUB


def trust(pipeline: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = pipeline["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ][0]
    return statement


def statements(pipeline: dict[str, Any], role: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = pipeline["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    return found


def statement_with(pipeline: dict[str, Any], role: str, action: str) -> dict[str, Any]:
    return next(entry for entry in statements(pipeline, role) if action in entry["Action"])


class PlantedFaults(unittest.TestCase):
    def caught(self, plant: Callable[[dict[str, Any]], None], samconfig: dict[str, Any] = SAMCONFIG) -> list[str]:
        pipeline = copy.deepcopy(PIPELINE)
        plant(pipeline)
        return check_pipeline.violations(pipeline, APP, samconfig)

    def assert_caught(self, plant: Callable[[dict[str, Any]], None], expected: str) -> None:
        found = self.caught(plant)
        self.assertTrue(any(expected in violation for violation in found), f"{expected!r} not in {found}")

    def test_the_pipeline_as_committed_passes(self) -> None:
        self.assertEqual(self.caught(lambda pipeline: None), [])

    def test_a_deploy_role_trusting_any_repository(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            condition = trust(pipeline)["Condition"]
            sub = condition["StringEquals"].pop(f"{GITHUB}:sub")
            condition["StringLike"] = {f"{GITHUB}:sub": "repo:*"}
            self.assertTrue(sub)

        found = self.caught(plant)
        self.assertTrue(any("StringEquals alone (no patterns)" in v for v in found), found)
        self.assertTrue(any("must trust exactly this repository's stage environment" in v for v in found), found)

    def test_a_deploy_role_trusting_every_branch_of_the_repository(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            trust(pipeline)["Condition"]["StringEquals"][f"{GITHUB}:sub"] = {"Fn::Sub": "repo:${Repository}:*"}

        self.assert_caught(plant, "DeployRole: must trust exactly this repository's stage environment")

    def test_a_deploy_role_trusting_another_stages_environment(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            subject = {"Fn::Sub": "repo:${Repository}:environment:staging"}
            trust(pipeline)["Condition"]["StringEquals"][f"{GITHUB}:sub"] = subject

        self.assert_caught(plant, "DeployRole: must trust exactly this repository's stage environment")

    def test_a_deploy_role_without_the_audience(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            del trust(pipeline)["Condition"]["StringEquals"][f"{GITHUB}:aud"]

        self.assert_caught(plant, "DeployRole: must require the audience sts.amazonaws.com")

    def test_a_deploy_role_also_trusting_an_account(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            document = pipeline["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]
            document["Statement"].append(
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "sts:AssumeRole"}
            )

        self.assert_caught(plant, "DeployRole: trusts something besides GitHub's OIDC tokens")

    def test_a_deploy_role_changing_functions_itself(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            statements(pipeline, "DeployRole").append(
                {"Effect": "Allow", "Action": ["lambda:UpdateFunctionCode"], "Resource": "*"}
            )

        self.assert_caught(plant, "DeployRole: holds lambda:UpdateFunctionCode, which sam deploy does not need")

    def test_a_deploy_role_changing_any_stack(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            statement_with(pipeline, "DeployRole", "cloudformation:ExecuteChangeSet")["Resource"] = "*"

        self.assert_caught(plant, "DeployRole: CloudFormation actions only on the stage's stack")

    def test_a_deploy_role_passing_its_role_to_anything(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            del statement_with(pipeline, "DeployRole", "iam:PassRole")["Condition"]

        self.assert_caught(plant, "DeployRole: may pass only the CloudFormation role")

    def test_a_deploy_role_passing_any_role(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            statement = statement_with(pipeline, "DeployRole", "iam:PassRole")
            statement["Resource"] = [statement["Resource"], "*"]

        self.assert_caught(plant, "DeployRole: may pass only the CloudFormation role")

    def test_a_deploy_role_writing_any_bucket(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            statement_with(pipeline, "DeployRole", "s3:PutObject")["Resource"] = "arn:aws:s3:::*/*"

        self.assert_caught(plant, "DeployRole: S3 actions only on the artifact bucket")

    def test_change_sets_run_as_the_deploy_role_itself(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            del statement_with(pipeline, "DeployRole", "cloudformation:CreateChangeSet")["Condition"]["StringEquals"]

        self.assert_caught(plant, "DeployRole: its change sets must run as the CloudFormation role")

    def test_change_sets_importing_resources(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            del statement_with(pipeline, "DeployRole", "cloudformation:CreateChangeSet")["Condition"]["Null"]

        self.assert_caught(plant, "DeployRole: its change sets must import no resource")

    def test_a_cloudformation_role_writing_any_role_policy(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            statements(pipeline, "CloudFormationRole").append(
                {"Effect": "Allow", "Action": ["iam:DeleteRolePolicy"], "Resource": "*"}
            )

        self.assert_caught(plant, 'CloudFormationRole: iam:DeleteRolePolicy on Resource "*"')

    def test_a_cloudformation_role_mapping_any_functions_event_sources(self) -> None:
        def unconditioned(pipeline: dict[str, Any]) -> None:
            del statement_with(pipeline, "CloudFormationRole", "lambda:CreateEventSourceMapping")["Condition"]

        def any_function(pipeline: dict[str, Any]) -> None:
            condition = statement_with(pipeline, "CloudFormationRole", "lambda:CreateEventSourceMapping")["Condition"]
            condition["ArnLike"]["lambda:FunctionArn"] = {
                "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*"
            }

        for plant in (unconditioned, any_function):
            self.assert_caught(plant, 'CloudFormationRole: lambda:CreateEventSourceMapping on Resource "*"')

    def test_a_boundary_letting_no_role_publish_change_events(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            document = pipeline["Resources"]["StackRoleBoundary"]["Properties"]["PolicyDocument"]
            document["Statement"] = [entry for entry in document["Statement"] if entry.get("Sid") != "ChangeEvents"]

        self.assert_caught(plant, "StackRoleBoundary: lets no role do events:PutEvents, which template.yaml's")

    def test_a_cloudformation_role_making_unbounded_roles(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            del statement_with(pipeline, "CloudFormationRole", "iam:CreateRole")["Condition"]

        self.assert_caught(plant, "CloudFormationRole: iam:CreateRole only on roles carrying the stack's permissions")

    def test_a_boundary_short_of_what_the_functions_need(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            document = pipeline["Resources"]["StackRoleBoundary"]["Properties"]["PolicyDocument"]
            keys = next(entry for entry in document["Statement"] if "kms:Decrypt" in entry["Action"])
            keys["Action"].remove("kms:Decrypt")

        self.assert_caught(plant, "StackRoleBoundary: lets no role do kms:Decrypt, which template.yaml's")

    def test_a_pipeline_role_the_cloudformation_role_may_change(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            properties = pipeline["Resources"]["DeployRole"]["Properties"]
            properties["RoleName"] = {"Fn::Sub": "cortex-secrets-${Stage}-github-deploy"}

        self.assert_caught(plant, "DeployRole: needs a name outside cortex-secrets-${Stage}-*")

    def test_a_cloudformation_role_lacking_a_handlers_action(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            statement_with(pipeline, "CloudFormationRole", "dynamodb:CreateTable")["Action"].remove(
                "dynamodb:UpdateTimeToLive"
            )

        self.assert_caught(plant, "CloudFormationRole: lacks dynamodb:UpdateTimeToLive")

    def test_a_cloudformation_role_holding_more_than_handlers_need(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            statement_with(pipeline, "CloudFormationRole", "dynamodb:CreateTable")["Action"].append(
                "dynamodb:ExportTableToPointInTime"
            )

        self.assert_caught(plant, "CloudFormationRole: holds dynamodb:ExportTableToPointInTime, which no")

    def test_a_cloudformation_role_holding_an_excluded_action(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            statement_with(pipeline, "CloudFormationRole", "iam:CreateRole")["Action"].append("iam:AttachRolePolicy")

        self.assert_caught(plant, "CloudFormationRole: holds iam:AttachRolePolicy, excluded as unused")

    def test_a_cloudformation_role_anyone_may_assume(self) -> None:
        def plant(pipeline: dict[str, Any]) -> None:
            document = pipeline["Resources"]["CloudFormationRole"]["Properties"]["AssumeRolePolicyDocument"]
            document["Statement"][0]["Principal"] = {"AWS": "*"}

        self.assert_caught(plant, "CloudFormationRole: must be assumable by CloudFormation alone")

    def test_a_stage_deploying_another_stack(self) -> None:
        samconfig = copy.deepcopy(SAMCONFIG)
        samconfig["prod"]["global"]["parameters"]["stack_name"] = "cortex-secrets"
        found = self.caught(lambda pipeline: None, samconfig)
        self.assertIn("samconfig.toml: stage prod must deploy the stack cortex-secrets-prod, not cortex-secrets", found)


if __name__ == "__main__":
    unittest.main()
