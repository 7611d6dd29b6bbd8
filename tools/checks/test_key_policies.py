"""The key policies' check catches each way of letting a principal around
the boundary (or the account out of its keys): one fault planted per test in
a copy of template.yaml."""

from __future__ import annotations

import unittest
from collections.abc import Iterable
from typing import Any

from tools.checks import planted
from tools.checks.key_policies import check_key_policies

SAM = planted.SAM
ROLE = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-${AWS::Region}-"


def key_statements(sam: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = sam["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
    return found


def sid(sam: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    for entry in key_statements(sam, key):
        if entry.get("Sid") == name:
            return entry
    raise KeyError(f"{key} has no statement {name}")


def drop(sam: dict[str, Any], key: str, name: str) -> None:
    statements = key_statements(sam, key)
    statements.remove(sid(sam, key, name))


def role(name: str) -> dict[str, str]:
    return {"Fn::Sub": ROLE + name}


class PlantedFaults(planted.PlantedFaults):
    def violations(self, cfn: dict[str, Any]) -> Iterable[str]:
        return check_key_policies(cfn)

    def test_the_account_allowed_everything(self) -> None:
        """The policy this check replaced: kms:* to the account root."""

        def plant(sam: dict[str, Any]) -> None:
            sid(sam, "SecretsKey", "AccountAdministersNeverUses")["Action"] = "kms:*"

        self.assert_caught(plant, "SecretsKey: the key policy allows the wildcard action kms:*")

    def test_decrypt_allowed_to_the_account(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sid(sam, "SecretsKey", "AccountAdministersNeverUses")["Action"].append("kms:Decrypt")

        self.assert_caught(plant, "SecretsKey: kms:Decrypt is allowed without naming the roles that use it")

    def test_a_grant_allowed_to_the_account(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sid(sam, "IdempotencyKey", "AccountAdministersNeverUses")["Action"].append("kms:CreateGrant")

        self.assert_caught(plant, "IdempotencyKey: kms:CreateGrant is allowed without naming the roles that use it")

    def test_decrypt_allowed_to_another_role(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sid(sam, "SecretsKey", "ResolveAndResealDecrypt")["Condition"]["ArnEquals"]["aws:PrincipalArn"].append(
                role("create")
            )

        self.assert_caught(
            plant,
            "SecretsKey: kms:Decrypt is allowed to " + ROLE + "create, not the role of a function whose code uses it "
            "(ResealSecretFunction, ResolveSecretFunction)",
        )

    def test_the_resolve_role_renamed(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["ResolveSecretRole"]["Properties"]["RoleName"] = {
                "Fn::Sub": "${AWS::StackName}-${AWS::Region}-resolver"
            }

        self.assert_caught(
            plant, "SecretsKey: kms:Decrypt is not allowed to the role of ResolveSecretFunction, whose code uses it"
        )

    def test_a_role_without_a_name(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["ResolveSecretRole"]["Properties"]["RoleName"]

        self.assert_caught(plant, "ResolveSecretRole: needs a RoleName")

    def test_no_explicit_deny_of_decrypt(self) -> None:
        self.assert_caught(
            lambda sam: drop(sam, "SecretsKey", "NobodyElseDecrypts"),
            "SecretsKey: no explicit Deny of kms:Decrypt to every principal but "
            "ResealSecretFunction, ResolveSecretFunction",
        )

    def test_a_deny_of_decrypt_that_spares_another_role(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sid(sam, "SecretsKey", "NobodyElseDecrypts")["Condition"]["ArnNotEquals"]["aws:PrincipalArn"].append(
                role("ci")
            )

        self.assert_caught(plant, "SecretsKey: no explicit Deny of kms:Decrypt")

    def test_a_deny_of_decrypt_narrowed_by_another_condition(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sid(sam, "SecretsKey", "NobodyElseDecrypts")["Condition"]["Bool"] = {"aws:ViaAWSService": "false"}

        self.assert_caught(plant, "SecretsKey: no explicit Deny of kms:Decrypt")

    def test_a_deny_of_decrypt_to_the_resolve_role(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sid(sam, "SecretsKey", "NobodyUsesTheRest")["Action"].append("kms:Decrypt")

        self.assert_caught(
            plant, "SecretsKey: kms:Decrypt is denied to the role of ResolveSecretFunction, whose code uses it"
        )

    def test_re_encryption_not_denied(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sid(sam, "SecretsKey", "NobodyUsesTheRest")["Action"].remove("kms:ReEncryptFrom")

        self.assert_caught(plant, "SecretsKey: no explicit Deny of kms:ReEncryptFrom to every principal but none")

    def test_grants_not_denied(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sid(sam, "SecretsKey", "NobodyUsesTheRest")["Action"].remove("kms:CreateGrant")

        self.assert_caught(plant, "SecretsKey: no explicit Deny of kms:CreateGrant")

    def test_data_keys_for_a_function_that_does_not_write(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            names = sid(sam, "SecretsKey", "WritersGenerateDataKeys")["Condition"]["ArnEquals"]["aws:PrincipalArn"]
            names.append(role("ci"))

        self.assert_caught(plant, "SecretsKey: kms:GenerateDataKey is allowed to " + ROLE + "ci, not the role of")

    def test_data_keys_without_the_encryption_context(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sid(sam, "SecretsKey", "WritersGenerateDataKeys")["Condition"]["ForAllValues:StringEquals"]

        self.assert_caught(plant, "SecretsKey: kms:GenerateDataKey must be conditioned on the encryption context keys")

    def test_fingerprints_beyond_create(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sid(sam, "IdempotencyKey", "CreateFingerprints")["Condition"]["ArnEquals"]["aws:PrincipalArn"].append(
                role("update")
            )

        self.assert_caught(
            plant,
            "IdempotencyKey: kms:GenerateMac is allowed to " + ROLE + "update, not the role of a function whose code "
            "uses it (CreateSecretFunction)",
        )

    def test_mac_verification_not_denied(self) -> None:
        self.assert_caught(
            lambda sam: drop(sam, "IdempotencyKey", "NobodyUsesTheRest"),
            "IdempotencyKey: no explicit Deny of kms:VerifyMac",
        )

    def test_no_administration_statement(self) -> None:
        self.assert_caught(
            lambda sam: drop(sam, "SecretsKey", "AccountAdministersNeverUses"),
            "SecretsKey: no statement lets the account administer the key",
        )

    def test_administration_under_a_condition(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sid(sam, "IdempotencyKey", "AccountAdministersNeverUses")["Condition"] = {
                "ArnEquals": {"aws:PrincipalArn": role("admin")}
            }

        self.assert_caught(plant, "IdempotencyKey: no statement lets the account administer the key")

    def test_a_deny_of_administration(self) -> None:
        def named(sam: dict[str, Any]) -> None:
            sid(sam, "SecretsKey", "NobodyUsesTheRest")["Action"].append("kms:PutKeyPolicy")

        def wildcard(sam: dict[str, Any]) -> None:
            sid(sam, "SecretsKey", "NobodyUsesTheRest")["Action"] = "kms:*"

        for plant in (named, wildcard):
            self.assert_caught(plant, "SecretsKey: the key policy denies kms:PutKeyPolicy")

    def test_a_wildcard_principal_allowed(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sid(sam, "SecretsKey", "ResolveAndResealDecrypt")["Principal"] = {"AWS": "*"}

        self.assert_caught(plant, "SecretsKey: the key policy must not name a wildcard principal")


if __name__ == "__main__":
    unittest.main()
