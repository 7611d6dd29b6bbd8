"""The resolve route's check catches each way of opening another door to
the plaintext: one fault planted per test in a copy of template.yaml."""

from __future__ import annotations

import unittest
from collections.abc import Iterable
from typing import Any

from tools.checks import planted
from tools.checks.resolve_route import check_resolve_route

SAM = planted.SAM


def resolve_event(sam: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = sam["Resources"]["ResolveSecretFunction"]["Properties"]["Events"]["Resolve"]
    return event


class PlantedFaults(planted.PlantedFaults):
    def violations(self, cfn: dict[str, Any]) -> Iterable[str]:
        return check_resolve_route(cfn)

    def test_a_route_without_iam_authorization(self) -> None:
        self.assert_caught(
            lambda sam: resolve_event(sam)["Properties"].pop("Auth"), "must require AWS_IAM (SigV4) authorization"
        )

    def test_invoking_with_the_callers_credentials(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            resolve_event(sam)["Properties"]["Auth"]["InvokeRole"] = "CALLER_CREDENTIALS"

        self.assert_caught(plant, "must not invoke with the caller's credentials")

    def test_an_undefined_signature_scheme(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["SecretsApi"]["Properties"]["DefinitionBody"]["components"]

        self.assert_caught(plant, "security scheme must be defined as awsSigv4")

    def test_a_second_route_to_the_resolver(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            events = sam["Resources"]["ResolveSecretFunction"]["Properties"]["Events"]
            events["Open"] = {
                "Type": "Api",
                "Properties": {"RestApiId": {"Ref": "SecretsApi"}, "Path": "/open/{tagOrId}", "Method": "GET"},
            }

        self.assert_caught(plant, "ResolveSecretFunction must be reached by GET /internal/v1/tenants/{tenant}/secrets/")

    def test_a_route_without_its_permission(self) -> None:
        def plant(cfn_sam: dict[str, Any]) -> None:
            # Routed through a path of another API: SAM writes its permission
            # for that API's source, not this route's.
            events = cfn_sam["Resources"]["ResolveSecretFunction"]["Properties"]["Events"]
            events["ResolveMany"]["Properties"]["Path"] = "/internal/v1/tenants/{tenant}/all"

        self.assert_caught(plant, "no permission lets API Gateway invoke it on /GET/internal/v1/tenants/*/secrets")

    def test_the_batch_route_without_a_signature(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            events = sam["Resources"]["ResolveSecretFunction"]["Properties"]["Events"]
            del events["ResolveMany"]["Properties"]["Auth"]

        self.assert_caught(
            plant, "GET /internal/v1/tenants/{tenant}/secrets must require AWS_IAM (SigV4) authorization"
        )

    def test_a_policy_to_invoke_the_function_directly(self) -> None:
        for action, resource in [
            ("lambda:InvokeFunction", {"Fn::GetAtt": ["ResolveSecretFunction", "Arn"]}),
            ("Lambda:invokeFunction", {"Fn::Sub": "arn:aws:lambda:*:*:function:${ResolveSecretFunction}"}),
            ("lambda:InvokeFunction", "*"),
        ]:

            def plant(sam: dict[str, Any], action: str = action, resource: Any = resource) -> None:
                sam["Resources"]["DirectResolve"] = {
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Properties": {
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": [action], "Resource": resource}],
                        }
                    },
                }

            self.assert_caught(plant, "DirectResolve: grants lambda:InvokeFunction on ResolveSecretFunction")

    def test_another_service_allowed_to_invoke_it(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["S3Invokes"] = {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Ref": "ResolveSecretFunction"},
                    "Principal": "s3.amazonaws.com",
                },
            }

        self.assert_caught(plant, "S3Invokes: ResolveSecretFunction may be invoked only by API Gateway")


if __name__ == "__main__":
    unittest.main()
