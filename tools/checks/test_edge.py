"""The edge's check catches each missing limit or leaky log: one fault
planted per test in a copy of template.yaml."""

from __future__ import annotations

import json
import unittest
from collections.abc import Iterable
from typing import Any

from tools.checks import planted
from tools.checks.edge import check_edge

SAM = planted.SAM


def api(sam: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = sam["Resources"]["SecretsApi"]["Properties"]
    return properties


def access_log_fields(sam: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = json.loads(api(sam)["AccessLogSetting"]["Format"])
    return fields


def set_access_log_fields(sam: dict[str, Any], fields: dict[str, str]) -> None:
    api(sam)["AccessLogSetting"]["Format"] = json.dumps(fields)


class PlantedFaults(planted.PlantedFaults):
    def violations(self, cfn: dict[str, Any]) -> Iterable[str]:
        return check_edge(cfn)

    def test_a_function_without_reserved_concurrency(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["ListSecretsFunction"]["Properties"]["ReservedConcurrentExecutions"]

        self.assert_caught(plant, "ListSecretsFunction: needs reserved concurrency from a template parameter")

    def test_a_stream_consumer_also_invoked_by_the_api_without_reserved_concurrency(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["PublishChangesFunction"]["Properties"]["Events"]["Api"] = {
                "Type": "Api",
                "Properties": {"RestApiId": {"Ref": "SecretsApi"}, "Path": "/api/v1/changes", "Method": "GET"},
            }

        self.assert_caught(plant, "PublishChangesFunction: needs reserved concurrency from a template parameter")

    def test_reserved_concurrency_fixed_in_the_template(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["CreateSecretFunction"]["Properties"]["ReservedConcurrentExecutions"] = 5

        self.assert_caught(plant, "CreateSecretFunction: needs reserved concurrency from a template parameter")

    def test_reserved_concurrency_defaults_that_drain_the_account(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Parameters"]["GetReservedConcurrency"]["Default"] = 900

        self.assert_caught(plant, "the functions' reserved concurrency defaults add up to 970, more than 200")

    def test_a_stage_without_access_logs(self) -> None:
        self.assert_caught(
            lambda sam: api(sam).pop("AccessLogSetting"), "SecretsApiliveStage: needs access logs (AccessLogSetting)"
        )

    def test_access_logs_without_retention(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["ApiAccessLogs"]["Properties"]["RetentionInDays"]

        self.assert_caught(plant, "SecretsApiliveStage: needs access logs (AccessLogSetting) into a log group")

    def test_access_logs_in_common_log_format(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            api(sam)["AccessLogSetting"]["Format"] = (
                "$context.identity.sourceIp - - [$context.requestTime] "
                '"$context.httpMethod $context.resourcePath" $context.status $context.requestId'
            )

        self.assert_caught(plant, "SecretsApiliveStage: the access log format must be one JSON object of strings")

    def test_access_logs_without_the_source_ip(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            fields = access_log_fields(sam)
            del fields["sourceIp"]
            set_access_log_fields(sam, fields)

        self.assert_caught(plant, "SecretsApiliveStage: the access log format lacks $context.identity.sourceIp")

    def test_access_logs_with_the_authorization_header(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            fields = access_log_fields(sam)
            fields["authorization"] = "$method.request.header.Authorization"
            set_access_log_fields(sam, fields)

        self.assert_caught(plant, "SecretsApiliveStage: the access log format must log no request header")

    def test_execution_logs_with_data_trace(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            api(sam)["MethodSettings"][0]["DataTraceEnabled"] = True

        self.assert_caught(plant, "SecretsApiliveStage: execution logs' data trace (DataTraceEnabled)")

    def test_no_waf_on_the_stage(self) -> None:
        self.assert_caught(
            lambda sam: sam["Resources"].pop("ApiWebAclAssociation"),
            "SecretsApiliveStage: needs a WAF web ACL associated",
        )

    def test_a_waf_associated_with_another_stage(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["ApiWebAclAssociation"]["Properties"]["ResourceArn"] = {
                "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${SecretsApi}/stages/test"
            }

        self.assert_caught(plant, "SecretsApiliveStage: needs a WAF web ACL associated")

    def test_a_waf_without_a_per_ip_rate_limit(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            rule = sam["Resources"]["ApiWebAcl"]["Properties"]["Rules"][0]
            rule["Statement"]["RateBasedStatement"]["AggregateKeyType"] = "CONSTANT"

        self.assert_caught(
            plant, "ApiWebAclAssociation: its web ACL needs a REGIONAL per-IP rate-based rule that blocks"
        )

    def test_a_rate_limit_that_only_counts(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["ApiWebAcl"]["Properties"]["Rules"][0]["Action"] = {"Count": {}}

        self.assert_caught(
            plant, "ApiWebAclAssociation: its web ACL needs a REGIONAL per-IP rate-based rule that blocks"
        )

    def test_a_waf_not_under_a_parameter(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["ApiWebAclAssociation"]["Condition"]

        self.assert_caught(plant, "ApiWebAclAssociation: the WAF (association and web ACL) must hang on a parameter")

    def test_a_waf_off_by_default(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Parameters"]["EnableWaf"]["Default"] = "false"

        self.assert_caught(plant, "ApiWebAclAssociation: the WAF (association and web ACL) must hang on a parameter")


if __name__ == "__main__":
    unittest.main()
