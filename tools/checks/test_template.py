"""The template check catches each kind of fault: one is planted per test in
a copy of template.yaml, and the check must name it. Run by `make test`."""

from __future__ import annotations

import copy
import unittest
from collections.abc import Callable
from typing import Any

from tools.checks import template as check_template

SAM = check_template.load_sam()
MANIFEST = check_template.load_manifest()


def statement(sam: dict[str, Any], role: str, action_prefix: str) -> dict[str, Any]:
    """The statement of `role` whose first action starts with `action_prefix`."""
    for policy in sam["Resources"][role]["Properties"]["Policies"]:
        entry: dict[str, Any]
        for entry in policy["PolicyDocument"]["Statement"]:
            if str(check_template.as_list(entry["Action"])[0]).startswith(action_prefix):
                return entry
    raise KeyError(f"{role} has no {action_prefix} statement")


def statement_on(sam: dict[str, Any], role: str, action: str, resource: str) -> dict[str, Any]:
    """The statement of `role` granting `action` on `resource` (`X` for X.Arn, as the manifest names it)."""
    for entry in policy_statements(sam, role):
        if action in check_template.as_list(entry["Action"]) and resource in [
            check_template.resource_name(r) for r in check_template.as_list(entry["Resource"])
        ]:
            return entry
    raise KeyError(f"{role} grants no {action} on {resource}")


def policy_statements(sam: dict[str, Any], role: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = sam["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ]
    return statements


def on(resource: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource, "Arn"]}


# The partition key prefixes of the secrets table (crates/secrets-aws/src/dynamo/layout.rs).
PARTITIONS = ["IDEMPOTENCY#*", "PAGES#*", "SECRET#*", "TENANT#*"]


def role_of(function: str) -> str:
    """The logical id of `function`'s role."""
    role: str = SAM["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    return role


def leading_keys(sam: dict[str, Any], role: str, action: str) -> list[str]:
    """The dynamodb:LeadingKeys list of `role`'s statement granting `action` on the secrets table."""
    condition = statement_on(sam, role, action, "SecretsTable")["Condition"]
    partitions: list[str] = condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    return partitions


class PlantedFaults(unittest.TestCase):
    def violations_after(
        self, plant: Callable[[dict[str, Any]], None], manifest: dict[str, Any] = MANIFEST
    ) -> list[str]:
        sam = copy.deepcopy(SAM)
        plant(sam)
        return check_template.violations(sam, manifest)

    def assert_caught(self, plant: Callable[[dict[str, Any]], None], expected: str) -> None:
        found = self.violations_after(plant)
        self.assertTrue(any(expected in violation for violation in found), f"{expected!r} not in {found}")

    def test_the_template_as_committed_passes(self) -> None:
        self.assertEqual(check_template.violations(copy.deepcopy(SAM), MANIFEST), [])

    def test_a_wildcard_action(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement(sam, "ListSecretsRole", "dynamodb:")["Action"] = ["dynamodb:*"]

        self.assert_caught(plant, "ListSecretsRole: wildcard action dynamodb:*")

    def test_a_role_without_the_permissions_boundary(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["CodeDeployRole"]["Properties"]["PermissionsBoundary"]

        self.assert_caught(plant, "CodeDeployRole: must carry the permissions boundary PermissionsBoundaryArn")

    def test_a_prefix_wildcard_action(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement(sam, "GetSecretRole", "dynamodb:").setdefault("Action", []).append("dynamodb:Get*")

        self.assert_caught(plant, "wildcard action dynamodb:Get*")

    def test_a_resource_wildcard_on_data(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement(sam, "GetSecretRole", "dynamodb:")["Resource"] = "*"

        self.assert_caught(plant, 'GetSecretRole: Resource "*" for dynamodb:GetItem')

    def test_every_action_on_the_secrets_table_held_beyond_its_leading_keys(self) -> None:
        # For each action of each function the manifest narrows: its
        # statement's list missing a prefix, with one more, or no condition.
        for function, by_action in MANIFEST["leading_keys"].items():
            role = role_of(function)
            for action, partitions in by_action.items():
                expected = (
                    f"{role}: {action} on SecretsTable only under ForAllValues:StringLike "
                    f"dynamodb:LeadingKeys {sorted(partitions)}"
                )
                extra = sorted(set(PARTITIONS) - set(partitions))[0]

                def missing(sam: dict[str, Any], role: str = role, action: str = action) -> None:
                    leading_keys(sam, role, action).pop(0)

                def wider(sam: dict[str, Any], role: str = role, action: str = action, extra: str = extra) -> None:
                    leading_keys(sam, role, action).append(extra)
                    leading_keys(sam, role, action).sort()

                def everything(sam: dict[str, Any], role: str = role, action: str = action) -> None:
                    leading_keys(sam, role, action)[:] = ["*"]

                def unconditioned(sam: dict[str, Any], role: str = role, action: str = action) -> None:
                    statement_on(sam, role, action, "SecretsTable").pop("Condition")

                for plant in (missing, wider, everything, unconditioned):
                    with self.subTest(function=function, action=action, plant=plant.__name__):
                        self.assert_caught(plant, expected)

    def test_the_list_function_writing_beyond_page_starts(self) -> None:
        def secrets_too(sam: dict[str, Any]) -> None:
            leading_keys(sam, "ListSecretsRole", "dynamodb:PutItem")[:] = ["PAGES#*", "SECRET#*"]

        self.assert_caught(
            secrets_too,
            "ListSecretsRole: dynamodb:PutItem on SecretsTable only under ForAllValues:StringLike "
            "dynamodb:LeadingKeys ['PAGES#*']",
        )

        def updating(sam: dict[str, Any]) -> None:
            statement_on(sam, "ListSecretsRole", "dynamodb:PutItem", "SecretsTable")["Action"].append(
                "dynamodb:UpdateItem"
            )

        self.assert_caught(
            updating,
            "ListSecretsRole: dynamodb:UpdateItem on SecretsTable, for which leading_keys in "
            "deploy/function-permissions.json names no partitions",
        )

    def test_actions_held_to_different_partitions_in_one_statement(self) -> None:
        def merged_back(sam: dict[str, Any]) -> None:
            # As it was: the delete function's PutItem (its tenant's
            # collection) beside its other item actions (a secret's too).
            statements = policy_statements(sam, "DeleteSecretRole")
            statements.remove(statement_on(sam, "DeleteSecretRole", "dynamodb:PutItem", "SecretsTable"))
            statement_on(sam, "DeleteSecretRole", "dynamodb:GetItem", "SecretsTable")["Action"].append(
                "dynamodb:PutItem"
            )

        self.assert_caught(
            merged_back,
            "DeleteSecretRole: actions held to different dynamodb:LeadingKeys share a statement on SecretsTable",
        )

        def one_for_all(sam: dict[str, Any]) -> None:
            # The create function's reads (idempotency records, a META
            # after a lost answer) beside its puts, under the puts' wider list.
            statements = policy_statements(sam, "CreateSecretRole")
            statements.remove(statement_on(sam, "CreateSecretRole", "dynamodb:GetItem", "SecretsTable"))
            statement_on(sam, "CreateSecretRole", "dynamodb:PutItem", "SecretsTable")["Action"].append(
                "dynamodb:GetItem"
            )

        found = self.violations_after(one_for_all)
        self.assertTrue(
            any(
                "CreateSecretRole: actions held to different dynamodb:LeadingKeys" in violation
                and "dynamodb:GetItem ['IDEMPOTENCY#*', 'SECRET#*']" in violation
                for violation in found
            ),
            found,
        )

    def test_a_leading_keys_action_the_template_does_not_grant(self) -> None:
        def no_count_update(sam: dict[str, Any]) -> None:
            statements = policy_statements(sam, "CreateSecretRole")
            statements.remove(statement_on(sam, "CreateSecretRole", "dynamodb:UpdateItem", "SecretsTable"))

        self.assert_caught(
            no_count_update,
            "CreateSecretRole: grants dynamodb:UpdateItem on SecretsTable nowhere, which leading_keys in "
            "deploy/function-permissions.json holds to dynamodb:LeadingKeys ['TENANT#*']",
        )

    def test_leading_keys_that_do_not_name_a_functions_actions_on_the_secrets_table(self) -> None:
        manifest = "deploy/function-permissions.json"

        def faults(edit: Callable[[dict[str, Any]], None]) -> list[str]:
            changed = copy.deepcopy(MANIFEST)
            edit(changed["leading_keys"])
            return self.violations_after(lambda sam: None, changed)

        found = faults(lambda keys: keys["GetSecretFunction"].pop("dynamodb:Query"))
        self.assertIn(
            f"GetSecretFunction: leading_keys in {manifest} names no partitions for dynamodb:Query on SecretsTable",
            found,
        )
        self.assertIn(
            f"GetSecretRole: dynamodb:Query on SecretsTable, for which leading_keys in {manifest} names no partitions",
            found,
        )

        found = faults(lambda keys: keys["GetSecretFunction"].update({"dynamodb:PutItem": ["SECRET#*"]}))
        self.assertIn(
            f"GetSecretFunction: leading_keys in {manifest} names dynamodb:PutItem, "
            "which its resources do not place on SecretsTable",
            found,
        )
        self.assertIn(
            f"GetSecretRole: grants dynamodb:PutItem on SecretsTable nowhere, which leading_keys in {manifest} "
            "holds to dynamodb:LeadingKeys ['SECRET#*']",
            found,
        )

        found = faults(lambda keys: keys.pop("ResolveSecretFunction"))
        self.assertIn(f"ResolveSecretFunction: acts on SecretsTable but has no leading_keys in {manifest}", found)

        found = faults(lambda keys: keys.update({"RotateSecretFunction": {"dynamodb:GetItem": ["SECRET#*"]}}))
        self.assertIn(f"RotateSecretFunction: has leading_keys in {manifest} but is not one of its functions", found)

        # `?*` is what the code's unreadable partition would ask for: in
        # StringLike, every partition.
        for wide in ["?*", "*", "SECRET#*#*", "secret#*"]:

            def widen(keys: dict[str, Any], wide: str = wide) -> None:
                keys["GetSecretFunction"]["dynamodb:Query"] = [wide]

            found = faults(widen)
            self.assertIn(
                f"GetSecretFunction: leading_keys in {manifest} for dynamodb:Query: {wide!r} is not a partition "
                "prefix (capitals ending in #, then *)",
                found,
            )

        found = faults(lambda keys: keys["ResolveSecretFunction"]["dynamodb:GetItem"].reverse())
        self.assertIn(
            f"ResolveSecretFunction: leading_keys in {manifest} for dynamodb:GetItem must be a sorted list "
            "without repeats",
            found,
        )

    def test_a_statement_on_the_secrets_table_and_another(self) -> None:
        def both_tables(sam: dict[str, Any]) -> None:
            statement_on(sam, "GetSecretRole", "dynamodb:GetItem", "SecretsTable")["Resource"] = [
                on("SecretsTable"),
                on("AuditTable"),
            ]

        self.assert_caught(both_tables, "GetSecretRole: a statement on SecretsTable names it alone")

    def test_the_audit_tables_put_is_not_held_to_the_secrets_partitions(self) -> None:
        # The committed template passes with the audit statement unconditioned;
        # conditioning it like the secrets table's would break every audit
        # write, and is no fault this rule reports.
        found = self.violations_after(lambda sam: None)
        self.assertFalse([v for v in found if "DeleteSecretRole" in v], found)
        self.assertNotIn("Condition", statement_on(SAM, "DeleteSecretRole", "dynamodb:PutItem", "AuditTable"))

    def test_resolve_without_reserved_concurrency(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["ResolveSecretFunction"]["Properties"]["ReservedConcurrentExecutions"]

        self.assert_caught(plant, "ResolveSecretFunction: needs reserved concurrency")

    def test_point_in_time_recovery_off(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["SecretsTable"]["Properties"]["PointInTimeRecoverySpecification"][
                "PointInTimeRecoveryEnabled"
            ] = False

        self.assert_caught(plant, "SecretsTable: point-in-time recovery must be enabled")

    def test_key_rotation_off(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["SecretsKey"]["Properties"]["EnableKeyRotation"] = False

        self.assert_caught(plant, "SecretsKey: key rotation must be enabled")

    def test_deletion_protection_off(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["SecretsTable"]["Properties"]["DeletionProtectionEnabled"]

        self.assert_caught(plant, "SecretsTable: deletion protection must be enabled")

    def test_a_table_that_is_not_retained(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["SecretsTable"]["DeletionPolicy"] = "Delete"

        self.assert_caught(plant, "SecretsTable: DeletionPolicy must be Retain")

    def test_a_permission_the_code_does_not_use(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement(sam, "GetSecretRole", "dynamodb:")["Action"].append("dynamodb:Scan")

        self.assert_caught(plant, "GetSecretFunction: holds dynamodb:Scan, which its code does not use")

    def test_kms_for_a_function_that_only_reads(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            kms = copy.deepcopy(statement(sam, "CreateSecretRole", "kms:"))
            sam["Resources"]["ListSecretsRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(kms)

        self.assert_caught(plant, "ListSecretsFunction: holds kms:GenerateDataKey, which its code does not use")

    def test_a_permission_the_code_needs_is_missing(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement(sam, "ListSecretsRole", "dynamodb:")["Action"] = ["dynamodb:GetItem"]

        self.assert_caught(plant, "ListSecretsFunction: lacks dynamodb:Query, which its code needs")

    def test_kms_without_the_encryption_context_condition(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del statement(sam, "CreateSecretRole", "kms:")["Condition"]

        self.assert_caught(plant, "CreateSecretRole: KMS actions must be conditioned on the encryption context keys")

    def test_a_wildcard_principal_in_the_key_policy(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["SecretsKey"]["Properties"]["KeyPolicy"]["Statement"][0]["Principal"] = {"AWS": "*"}

        self.assert_caught(plant, "SecretsKey: the key policy must not name a wildcard principal")

    def test_a_managed_policy_on_a_role(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["DeleteSecretRole"]["Properties"]["ManagedPolicyArns"] = [
                "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
            ]

        self.assert_caught(plant, "DeleteSecretRole: managed policies are not allowed")

    def test_logs_without_retention(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["GetSecretLogs"]["Properties"]["RetentionInDays"]

        self.assert_caught(plant, "GetSecretLogs: log groups need a retention period")

    def test_a_function_without_tracing(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["GetSecretFunction"]["Properties"]["Tracing"] = "PassThrough"

        self.assert_caught(plant, "GetSecretFunction: X-Ray tracing must be active")

    def test_a_function_on_x86(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["GetSecretFunction"]["Properties"]["Architectures"] = ["x86_64"]

        self.assert_caught(plant, "GetSecretFunction: architecture must be arm64")

    def test_a_throttled_response_outside_the_contract(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["SecretsApi"]["Properties"]["GatewayResponses"]["THROTTLED"]

        self.assert_caught(plant, "THROTTLED gateway response must be a 429 application/problem+json")

    def test_bodies_handed_over_as_text(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["SecretsApi"]["Properties"]["BinaryMediaTypes"]

        self.assert_caught(plant, "SecretsApi: every media type must be binary")

    def test_an_allow_header_that_lies(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            paths = sam["Resources"]["SecretsApi"]["Properties"]["DefinitionBody"]["paths"]
            responses = paths["/api/v1/secrets"]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
            responses["responses"]["default"]["responseParameters"]["method.response.header.Allow"] = "'GET'"

        self.assert_caught(plant, "/api/v1/secrets: other methods must be answered 405 with Allow: GET, POST")

    def test_a_manifest_entry_without_a_function(self) -> None:
        manifest = copy.deepcopy(MANIFEST)
        manifest["functions"]["RotateSecretFunction"] = ["kms:Decrypt"]
        found = self.violations_after(lambda sam: None, manifest)
        self.assertIn("RotateSecretFunction: listed in deploy/function-permissions.json but not in the template", found)

    def test_another_function_that_can_decrypt(self) -> None:
        manifest = copy.deepcopy(MANIFEST)
        manifest["functions"]["GetSecretFunction"].append("kms:Decrypt")

        def plant(sam: dict[str, Any]) -> None:
            decrypt = copy.deepcopy(statement(sam, "ResolveSecretRole", "kms:"))
            sam["Resources"]["GetSecretRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
                decrypt
            )

        found = self.violations_after(plant, manifest)
        self.assertIn(
            "GetSecretFunction: only ResealSecretFunction and ResolveSecretFunction may hold kms:Decrypt", found
        )

    def test_another_function_that_can_invoke_the_reseal_function(self) -> None:
        manifest = copy.deepcopy(MANIFEST)
        manifest["functions"]["DeleteSecretFunction"].append("lambda:InvokeFunction")

        def plant(sam: dict[str, Any]) -> None:
            invoke = copy.deepcopy(statement(sam, "UpdateSecretRole", "lambda:"))
            sam["Resources"]["DeleteSecretRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
                invoke
            )

        found = self.violations_after(plant, manifest)
        self.assertIn(
            "DeleteSecretFunction: only UpdateSecretFunction may invoke a function "
            "(ResealSecretFunction, for a restore)",
            found,
        )

    def test_an_invoke_beyond_the_reseal_alias(self) -> None:
        for resource in (
            {"Fn::GetAtt": ["ResealSecretFunction", "Arn"]},
            {"Fn::GetAtt": ["ResolveSecretFunction", "Arn"]},
        ):
            with self.subTest(resource=resource):

                def plant(sam: dict[str, Any], resource: Any = resource) -> None:
                    statement(sam, "UpdateSecretRole", "lambda:")["Resource"] = resource

                self.assert_caught(
                    plant, "UpdateSecretRole: lambda:InvokeFunction alone, on ${ResealSecretFunction.Arn}:live alone"
                )

    def test_a_resource_permission_on_the_reseal_function(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["ResealFromAnywhere"] = {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Ref": "ResealSecretFunction.Alias"},
                    "Principal": "events.amazonaws.com",
                },
            }

        self.assert_caught(plant, "ResealFromAnywhere: lets someone besides UpdateSecretFunction's role invoke")

    def test_a_resource_permission_naming_the_reseal_alias_by_its_arn(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["ResealFromAnywhere"] = {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Fn::Sub": "${ResealSecretFunction.Arn}:live"},
                    "Principal": "events.amazonaws.com",
                },
            }

        self.assert_caught(plant, "ResealFromAnywhere: lets someone besides UpdateSecretFunction's role invoke")

    def test_a_reseal_function_restores_can_throttle_or_outlive_its_caller(self) -> None:
        def fewer(sam: dict[str, Any]) -> None:
            sam["Resources"]["ResealSecretFunction"]["Properties"]["ReservedConcurrentExecutions"] = 2

        def slower(sam: dict[str, Any]) -> None:
            sam["Resources"]["ResealSecretFunction"]["Properties"]["Timeout"] = 10

        self.assert_caught(fewer, "ResealSecretFunction: must reserve UpdateSecretFunction's concurrency")
        self.assert_caught(slower, "ResealSecretFunction: its timeout must be at most the invoke's bound, 5 s")

    def test_the_mac_key_used_for_data_keys(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement(sam, "CreateSecretRole", "kms:GenerateDataKey")["Resource"] = {
                "Fn::GetAtt": ["IdempotencyKey", "Arn"]
            }

        self.assert_caught(plant, "CreateSecretRole: KMS actions must be limited to the key")

    def test_another_function_that_can_fingerprint(self) -> None:
        manifest = copy.deepcopy(MANIFEST)
        manifest["functions"]["UpdateSecretFunction"].append("kms:GenerateMac")

        def plant(sam: dict[str, Any]) -> None:
            mac = copy.deepcopy(statement(sam, "CreateSecretRole", "kms:GenerateMac"))
            sam["Resources"]["UpdateSecretRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(mac)

        found = self.violations_after(plant, manifest)
        self.assertIn(
            "UpdateSecretFunction: only CreateSecretFunction may fingerprint requests (kms:GenerateMac)", found
        )

    def test_a_mac_key_that_encrypts(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["IdempotencyKey"]["Properties"]["KeySpec"] = "SYMMETRIC_DEFAULT"
            sam["Resources"]["IdempotencyKey"]["Properties"]["KeyUsage"] = "ENCRYPT_DECRYPT"

        self.assert_caught(plant, "IdempotencyKey: must be an HMAC_256 key for GENERATE_VERIFY_MAC")

    def test_decrypt_without_the_encryption_context(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del statement(sam, "ResolveSecretRole", "kms:")["Condition"]

        self.assert_caught(plant, "ResolveSecretRole: KMS actions must be conditioned on the encryption context keys")

    def test_an_audit_trail_that_can_be_rewritten(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            for entry in sam["Resources"]["DeleteSecretRole"]["Properties"]["Policies"][0]["PolicyDocument"][
                "Statement"
            ]:
                if entry["Resource"] == {"Fn::GetAtt": ["AuditTable", "Arn"]} or entry["Resource"] == "AuditTable.Arn":
                    entry["Action"] = ["dynamodb:PutItem", "dynamodb:DeleteItem"]

        self.assert_caught(plant, "DeleteSecretRole: the audit table is append-only")

    def test_stream_reads_on_the_table_rather_than_its_stream(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement(sam, "PublishChangesRole", "dynamodb:DescribeStream")["Resource"] = {
                "Fn::GetAtt": ["AuditTable", "Arn"]
            }

        self.assert_caught(plant, "PublishChangesRole: stream reads (dynamodb:DescribeStream, dynamodb:GetRecords")

    def test_item_actions_on_a_stream(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement(sam, "GetSecretRole", "dynamodb:GetItem")["Resource"] = {
                "Fn::GetAtt": ["SecretsTable", "StreamArn"]
            }

        self.assert_caught(plant, "GetSecretRole: DynamoDB actions must be limited to the table")

    def test_a_stream_read_by_a_function_without_an_event_source(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            reads = copy.deepcopy(statement(sam, "PublishChangesRole", "dynamodb:DescribeStream"))
            sam["Resources"]["GetSecretRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(reads)

        self.assert_caught(plant, "GetSecretFunction: holds dynamodb:GetRecords, which its code does not use")

    def test_an_event_source_action_missing(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            document = sam["Resources"]["PublishChangesRole"]["Properties"]["Policies"][0]["PolicyDocument"]
            document["Statement"] = [entry for entry in document["Statement"] if entry["Action"] != ["sqs:SendMessage"]]

        self.assert_caught(plant, "PublishChangesFunction: lacks sqs:SendMessage, which its event source mapping needs")

    def test_event_sources_for_no_function(self) -> None:
        manifest = copy.deepcopy(MANIFEST)
        manifest["event_sources"]["RotateSecretFunction"] = ["dynamodb:GetRecords"]
        found = self.violations_after(lambda sam: None, manifest)
        self.assertIn(
            "RotateSecretFunction: has event_sources in deploy/function-permissions.json but is not one of its "
            "functions",
            found,
        )

    def test_a_publisher_that_outlasts_its_bound(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["PublishChangesFunction"]["Properties"]["Timeout"] = 60

        self.assert_caught(plant, "PublishChangesFunction: timeout must be at most 30 s")

    def test_a_caller_facing_function_with_the_publishers_timeout(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["GetSecretFunction"]["Properties"]["Timeout"] = 30

        self.assert_caught(plant, "GetSecretFunction: timeout must be at most 15 s")

    def test_a_change_without_its_audit_trail(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            document = sam["Resources"]["UpdateSecretRole"]["Properties"]["Policies"][0]["PolicyDocument"]
            document["Statement"] = [
                entry for entry in document["Statement"] if "AuditTable" not in str(entry.get("Resource"))
            ]

        self.assert_caught(plant, "UpdateSecretFunction: must be able to append to the audit table")


class Placements(unittest.TestCase):
    """Each action on the resources deploy/function-permissions.json names
    for it (its `resources`), and on no other."""

    def violations_after(
        self, plant: Callable[[dict[str, Any]], None], manifest: dict[str, Any] = MANIFEST
    ) -> list[str]:
        sam = copy.deepcopy(SAM)
        plant(sam)
        return check_template.violations(sam, manifest)

    def assert_caught(
        self, plant: Callable[[dict[str, Any]], None], *expected: str, manifest: dict[str, Any] = MANIFEST
    ) -> None:
        found = self.violations_after(plant, manifest)
        for text in expected:
            self.assertTrue(any(text in violation for violation in found), f"{text!r} not in {found}")

    def test_every_function_is_placed(self) -> None:
        self.assertEqual(set(MANIFEST["resources"]), set(MANIFEST["functions"]))

    def test_an_audit_append_moved_to_the_secrets_table(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement_on(sam, "ResolveSecretRole", "dynamodb:PutItem", "AuditTable")["Resource"] = on("SecretsTable")

        self.assert_caught(
            plant,
            "ResolveSecretFunction: holds dynamodb:PutItem on SecretsTable, which deploy/function-permissions.json "
            "does not name for it",
            "ResolveSecretFunction: lacks dynamodb:PutItem on AuditTable, which deploy/function-permissions.json "
            "names for it",
        )

    def test_a_secrets_read_widened_to_the_audit_table(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement_on(sam, "GetSecretRole", "dynamodb:GetItem", "SecretsTable")["Resource"] = [
                on("SecretsTable"),
                on("AuditTable"),
            ]

        self.assert_caught(
            plant, "GetSecretFunction: holds dynamodb:GetItem on AuditTable, which deploy/function-permissions.json"
        )

    def test_a_secrets_read_moved_to_the_audit_table(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement_on(sam, "ResolveSecretRole", "dynamodb:BatchGetItem", "SecretsTable")["Resource"] = on(
                "AuditTable"
            )

        self.assert_caught(
            plant,
            "ResolveSecretFunction: holds dynamodb:BatchGetItem on AuditTable",
            "ResolveSecretFunction: lacks dynamodb:GetItem on SecretsTable",
        )

    def test_a_query_moved_to_the_audit_table_escapes_no_rule(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            entry = statement_on(sam, "GetSecretRole", "dynamodb:Query", "SecretsTable")
            entry["Resource"] = on("AuditTable")
            entry.pop("Condition")

        self.assert_caught(plant, "GetSecretFunction: holds dynamodb:Query on AuditTable")

    def test_the_stream_of_the_other_table(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement_on(sam, "PublishChangesRole", "dynamodb:GetRecords", "AuditTable.StreamArn")["Resource"] = {
                "Fn::GetAtt": ["SecretsTable", "StreamArn"]
            }

        self.assert_caught(plant, "PublishChangesFunction: holds dynamodb:GetRecords on SecretsTable.StreamArn")

    def test_another_queue_or_bus(self) -> None:
        def queue(sam: dict[str, Any]) -> None:
            sam["Resources"]["OtherQueue"] = copy.deepcopy(sam["Resources"]["ChangeEventsFailedQueue"])
            statement_on(sam, "PublishChangesRole", "sqs:SendMessage", "ChangeEventsFailedQueue")["Resource"] = on(
                "OtherQueue"
            )

        def bus(sam: dict[str, Any]) -> None:
            entry = statement(sam, "PublishChangesRole", "events:PutEvents")
            entry["Resource"] = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/*"}

        self.assert_caught(queue, "PublishChangesFunction: holds sqs:SendMessage on OtherQueue")
        self.assert_caught(bus, "PublishChangesFunction: holds events:PutEvents on arn:${AWS::Partition}:events:")

    def test_data_keys_from_the_mac_key(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            statement(sam, "ResealSecretRole", "kms:")["Resource"] = [on("SecretsKey"), on("IdempotencyKey")]

        self.assert_caught(plant, "ResealSecretFunction: holds kms:Decrypt on IdempotencyKey")

    def test_a_manifest_placing_an_action_elsewhere(self) -> None:
        manifest = copy.deepcopy(MANIFEST)
        placement = manifest["resources"]["DeleteSecretFunction"]
        placement["AuditTable"] = ["dynamodb:DeleteItem", "dynamodb:PutItem"]
        self.assert_caught(
            lambda sam: None,
            "DeleteSecretFunction: lacks dynamodb:DeleteItem on AuditTable, which deploy/function-permissions.json "
            "names for it",
            manifest=manifest,
        )

    def test_a_manifest_whose_resources_and_actions_disagree(self) -> None:
        manifest = copy.deepcopy(MANIFEST)
        placement = manifest["resources"]["GetSecretFunction"]
        placement["SecretsTable"] = ["dynamodb:GetItem", "dynamodb:Scan"]
        self.assert_caught(
            lambda sam: None,
            "GetSecretFunction: deploy/function-permissions.json places dynamodb:Scan, which is not one of its actions",
            "GetSecretFunction: deploy/function-permissions.json names no resource for dynamodb:Query",
            manifest=manifest,
        )

    def test_a_function_without_resources(self) -> None:
        manifest = copy.deepcopy(MANIFEST)
        del manifest["resources"]["ResealSecretFunction"]
        manifest["resources"]["RotateSecretFunction"] = {"SecretsKey": ["kms:Decrypt"]}
        self.assert_caught(
            lambda sam: None,
            "ResealSecretFunction: has no resources in deploy/function-permissions.json",
            "RotateSecretFunction: has resources in deploy/function-permissions.json but is not one of its functions",
            manifest=manifest,
        )

    def test_a_policy_attached_beside_a_functions_role(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["GetSecretExtra"] = {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "extra",
                    "Roles": [{"Ref": "GetSecretRole"}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": on("AuditTable")}
                        ],
                    },
                },
            }

        self.assert_caught(plant, "GetSecretExtra: attaches to GetSecretRole, a function's role")


if __name__ == "__main__":
    unittest.main()
