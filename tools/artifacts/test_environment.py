"""A function's environment from a template, as CloudFormation resolves it."""

from __future__ import annotations

import unittest
from typing import Any

from tools.artifacts.environment import Resolver, Sandbox, TemplateError, deployed_environment, functions

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Issuer": {"Type": "String"},
        "PublicKey": {"Type": "String", "Default": ""},
        "Shards": {"Type": "Number", "Default": 16},
    },
    "Conditions": {"UsePublicKey": {"Fn::Not": [{"Fn::Equals": [{"Ref": "PublicKey"}, ""]}]}},
    "Globals": {
        "Function": {
            "Handler": "bootstrap",
            "MemorySize": 128,
            "Environment": {
                "Variables": {
                    "TABLE_NAME": {"Ref": "Table"},
                    "SHARDS": {"Ref": "Shards"},
                    "ISSUER": {"Ref": "Issuer"},
                    "KEY_PEM": {"Fn::If": ["UsePublicKey", {"Ref": "PublicKey"}, {"Ref": "AWS::NoValue"}]},
                    "LEVEL": "INFO",
                }
            },
        }
    },
    "Resources": {
        "Table": {"Type": "AWS::DynamoDB::Table"},
        "Writer": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "MemorySize": 256,
                "LoggingConfig": {"LogFormat": "JSON"},
                "Environment": {"Variables": {"KEY_ID": {"Fn::GetAtt": ["Key", "Arn"]}, "LEVEL": "DEBUG"}},
            },
        },
    },
}
SANDBOX = Sandbox("stack-Writer-local", "1", "us-east-1", "127.0.0.1:9001", "key", "secret", "token")


def resolver(parameters: dict[str, str], sam: dict[str, Any] = TEMPLATE) -> Resolver:
    return Resolver(sam, parameters, {"Table": "secrets"}, {("Key", "Arn"): "arn:aws:kms:us-east-1:1:key/k"})


class EnvironmentTest(unittest.TestCase):
    def writer(self, parameters: dict[str, str]) -> dict[str, str]:
        properties = functions(TEMPLATE)["Writer"]
        return deployed_environment(properties, resolver(parameters), SANDBOX, {"AWS_ENDPOINT_URL": "http://moto"})

    def test_globals_merge_under_the_functions_own_variables(self) -> None:
        env = self.writer({"Issuer": "https://issuer", "PublicKey": "PEM"})
        expected = {"TABLE_NAME": "secrets", "SHARDS": "16", "ISSUER": "https://issuer", "KEY_PEM": "PEM"}
        self.assertLessEqual(expected.items(), env.items())
        self.assertEqual((env["LEVEL"], env["KEY_ID"]), ("DEBUG", "arn:aws:kms:us-east-1:1:key/k"))

    def test_no_value_leaves_the_variable_unset(self) -> None:
        self.assertNotIn("KEY_PEM", self.writer({"Issuer": "https://issuer"}))

    def test_lambdas_own_variables_and_the_overrides_are_added(self) -> None:
        env = self.writer({"Issuer": "https://issuer"})
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_NAME"], "stack-Writer-local")
        self.assertEqual(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256")
        self.assertEqual(env["AWS_LAMBDA_LOG_FORMAT"], "JSON")
        self.assertEqual(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001")
        self.assertEqual(env["_HANDLER"], "bootstrap")
        self.assertEqual(env["AWS_ENDPOINT_URL"], "http://moto")

    def test_a_parameter_without_default_or_value_is_an_error(self) -> None:
        with self.assertRaisesRegex(TemplateError, "Issuer"):
            self.writer({})

    def test_a_reference_without_a_local_value_is_an_error(self) -> None:
        sam = {**TEMPLATE, "Resources": {**TEMPLATE["Resources"], "Table": {"Type": "AWS::DynamoDB::Table"}}}
        unknown = Resolver(sam, {"Issuer": "x"}, {}, {})
        with self.assertRaisesRegex(TemplateError, "Ref Table"):
            unknown.variables(functions(sam)["Writer"])

    def test_a_reserved_variable_in_the_template_is_an_error(self) -> None:
        properties = functions(TEMPLATE)["Writer"]
        properties["Environment"]["Variables"]["AWS_REGION"] = "eu-west-1"
        with self.assertRaisesRegex(TemplateError, "AWS_REGION"):
            deployed_environment(properties, resolver({"Issuer": "x"}), SANDBOX, {})


if __name__ == "__main__":
    unittest.main()
