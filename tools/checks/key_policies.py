"""The KMS key policies as the boundary of each key's use, checked on the
transformed template (part of `python -m tools.checks.template`).

IAM alone is not enough: any principal of the account whose IAM policy
allows kms:Decrypt on "*" (an administrator, a broad CI role) could open
every value offline, around resolve and its audit trail. So each key's own
policy must:

- let the account administer the key (kms:PutKeyPolicy and the rest, with
  no condition: without them nobody could repair or retire it) but use it
  for nothing: no wildcard action, no operation of the key (nor
  kms:CreateGrant, which hands them on) allowed to the account as such;
- allow each operation a function's code makes on the key to that
  function's role and no other principal, by aws:PrincipalArn (the role's
  ARN built from its RoleName, which a role of this stack must have), and
  on a data key only under a secret's encryption context;
- deny every operation of the key's kind, and kms:CreateGrant, to every
  principal but those roles, explicitly, so that no IAM policy or
  administrator's role can add a user without changing the key policy;
- deny nothing else (a Deny of kms:PutKeyPolicy locks the account out) and
  name a wildcard principal only in a Deny.

Who uses what comes from the functions' roles, which tools/checks/template.py
holds to deploy/function-permissions.json: the resolve role alone decrypts,
the create and update roles generate data keys, the create role alone
fingerprints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

from tools.checks.template import (
    ENCRYPTION_CONTEXT_KEYS,
    as_list,
    getatt_target,
    resources_of,
    statements,
    sub_text,
)

ACCOUNT = "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
ROLE_ARN_PREFIX = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"
# What a key of each usage can do. KMS refuses the others on it anyway.
OPERATIONS = {
    "ENCRYPT_DECRYPT": {
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:GenerateDataKeyPair",
        "kms:GenerateDataKeyPairWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    },
    "GENERATE_VERIFY_MAC": {"kms:GenerateMac", "kms:VerifyMac"},
}
# A grant lets its holder use the key, whatever the key policy says.
DELEGATION = "kms:CreateGrant"
USE = set().union(*OPERATIONS.values()) | {DELEGATION}
# Without these the account could neither repair the policy nor retire the key.
ADMINISTRATION = {
    "kms:PutKeyPolicy",
    "kms:GetKeyPolicy",
    "kms:DescribeKey",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
}
PRINCIPAL_ARN = "aws:PrincipalArn"


def expand(action: str) -> set[str]:
    """The operations and administrative actions an action names (IAM matches
    wildcards, and names case-insensitively), or the action itself."""
    if "*" not in action and "?" not in action:
        return {action}
    return {known for known in USE | ADMINISTRATION if fnmatchcase(known.lower(), action.lower())} | {action}


def principals(statement: dict[str, Any]) -> list[str | None]:
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        return [sub_text(entry) for entry in as_list(principal.get("AWS", []))] + [
            f"{kind}:{entry}" for kind, value in principal.items() if kind != "AWS" for entry in as_list(value)
        ]
    return [sub_text(entry) for entry in as_list(principal)]


def named_principals(condition: dict[str, Any], operator: str) -> set[str | None] | None:
    """The aws:PrincipalArn values of `operator`, if that is the condition's
    only use of aws:PrincipalArn."""
    uses = [op for op, keys in condition.items() if isinstance(keys, dict) and PRINCIPAL_ARN in keys]
    if uses != [operator]:
        return None
    return {sub_text(value) for value in as_list(condition[operator][PRINCIPAL_ARN])}


def has_encryption_context(condition: dict[str, Any]) -> bool:
    context_keys = condition.get("ForAllValues:StringEquals", {}).get("kms:EncryptionContextKeys", [])
    present = condition.get("Null", {})
    return set(as_list(context_keys)) == ENCRYPTION_CONTEXT_KEYS and all(
        str(present.get(f"kms:EncryptionContext:{key}")).lower() == "false" for key in ENCRYPTION_CONTEXT_KEYS
    )


def role_arns(cfn: dict[str, Any]) -> dict[str, str | None]:
    """Each role's ARN as a `Fn::Sub` template, None where it has no fixed name."""
    arns: dict[str, str | None] = {}
    for name, role in resources_of(cfn, "AWS::IAM::Role"):
        properties = role.get("Properties", {})
        role_name = sub_text(properties.get("RoleName"))
        arns[name] = ROLE_ARN_PREFIX + role_name if role_name and properties.get("Path", "/") == "/" else None
    return arns


def key_users(cfn: dict[str, Any]) -> dict[tuple[str, str], dict[str, str]]:
    """(key, action) -> {function: its role} for every KMS action a role grants on a key."""
    keys = {name for name, _ in resources_of(cfn, "AWS::KMS::Key")}
    users: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for function, resource in resources_of(cfn, "AWS::Lambda::Function"):
        role = getatt_target(resource.get("Properties", {}).get("Role"))
        if role is None or role not in cfn.get("Resources", {}):
            continue
        for statement in statements(cfn["Resources"][role]):
            if statement.get("Effect") != "Allow":
                continue
            for resource_arn in as_list(statement.get("Resource", [])):
                key = getatt_target(resource_arn)
                if key is None or key not in keys:
                    continue
                for action in as_list(statement.get("Action", [])):
                    users[(key, str(action))][function] = role
    return users


def check_key_policies(cfn: dict[str, Any]) -> Iterator[str]:
    arns = role_arns(cfn)
    users = key_users(cfn)
    unnamed: set[str] = set()
    for key, resource in resources_of(cfn, "AWS::KMS::Key"):
        properties = resource.get("Properties", {})
        operations = OPERATIONS.get(properties.get("KeyUsage", "ENCRYPT_DECRYPT"), set()) | {DELEGATION}
        context_bound = properties.get("KeyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"
        administered: set[str] = set()
        allowed: dict[str, set[str | None]] = defaultdict(set)
        # For each operation, the principals each Deny of it spares.
        spared: dict[str, list[set[str | None]]] = defaultdict(list)
        for statement in as_list(properties.get("KeyPolicy", {}).get("Statement", [])):
            if {"NotAction", "NotPrincipal", "NotResource"} & set(statement):
                yield f"{key}: NotAction/NotPrincipal/NotResource in the key policy cover more than they name"
            named_actions = [str(action) for action in as_list(statement.get("Action", []))]
            actions = sorted(set().union(*(expand(action) for action in named_actions)))
            who = principals(statement)
            condition = statement.get("Condition", {})
            if statement.get("Effect") == "Allow":
                if "*" in who:
                    yield f"{key}: the key policy must not name a wildcard principal"
                for action in named_actions:
                    if "*" in action or "?" in action:
                        yield f"{key}: the key policy allows the wildcard action {action}"
                if who == [ACCOUNT] and not condition:
                    administered |= set(actions)
                used = [action for action in actions if action in USE]
                named = named_principals(condition, "ArnEquals")
                for action in used:
                    if who != [ACCOUNT] or named is None:
                        yield (
                            f"{key}: {action} is allowed without naming the roles that use it "
                            f"(the account as principal, {PRINCIPAL_ARN} under ArnEquals)"
                        )
                        continue
                    allowed[action] |= named
                    if context_bound and not has_encryption_context(condition):
                        yield (
                            f"{key}: {action} must be conditioned on the encryption context keys "
                            f"{sorted(ENCRYPTION_CONTEXT_KEYS)}"
                        )
            elif statement.get("Effect") == "Deny":
                # A wildcard is judged by what it names.
                for action in actions:
                    if action not in USE and "*" not in action and "?" not in action:
                        yield (
                            f"{key}: the key policy denies {action}, which is not an operation of a key: "
                            "the account could lose the key's administration"
                        )
                # Only a Deny of everyone, but for named roles, counts: any
                # other condition would narrow it.
                if "*" not in who:
                    continue
                if not condition:
                    exceptions: set[str | None] = set()
                elif list(condition) == ["ArnNotEquals"] and list(condition["ArnNotEquals"]) == [PRINCIPAL_ARN]:
                    exceptions = {sub_text(value) for value in as_list(condition["ArnNotEquals"][PRINCIPAL_ARN])}
                else:
                    continue
                for action in actions:
                    spared[action].append(exceptions)

        lacking = sorted(ADMINISTRATION - administered)
        if lacking:
            yield (
                f"{key}: no statement lets the account administer the key (an Allow to {ACCOUNT} without "
                f"conditions lacks {', '.join(lacking)}): the key could be locked out"
            )
        for operation in sorted(operations):
            functions = users.get((key, operation), {})
            expected: set[str | None] = set()
            for role in sorted(functions.values()):
                if arns.get(role) is None:
                    unnamed.add(role)
                expected.add(arns.get(role))
            for extra in sorted(str(arn) for arn in allowed[operation] - expected):
                yield (
                    f"{key}: {operation} is allowed to {extra}, not the role of a function whose code uses it "
                    f"({', '.join(sorted(functions)) or 'none'})"
                )
            for function, role in sorted(functions.items()):
                if arns.get(role) is not None and arns[role] not in allowed[operation]:
                    yield f"{key}: {operation} is not allowed to the role of {function}, whose code uses it"
            if not any(exceptions <= expected for exceptions in spared[operation]):
                yield (
                    f"{key}: no explicit Deny of {operation} to every principal but "
                    f'{", ".join(sorted(functions)) or "none"} (Principal "*", {PRINCIPAL_ARN} under ArnNotEquals)'
                )
            for exceptions in spared[operation]:
                for function, role in sorted(functions.items()):
                    if arns.get(role) is not None and arns[role] not in exceptions:
                        yield f"{key}: {operation} is denied to the role of {function}, whose code uses it"
    for role in sorted(unnamed):
        yield f"{role}: needs a RoleName (and no Path): the key policies name it by its ARN"
