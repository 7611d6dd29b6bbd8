"""Offline policy checks of template.yaml, run by `make test`.

The SAM template is transformed to plain CloudFormation (as `sam deploy`
would) and checked for what a secrets service must never ship:

- IAM: wildcard actions, NotAction, managed policies, `Resource: "*"` for
  anything but X-Ray, a role without the permissions boundary parameter;
  every function's role must grant exactly the actions
  deploy/function-permissions.json lists for it (the adapter tests check the
  code against the same file), plus those its event source mapping makes
  with it (the file's `event_sources`), each on exactly the resources the
  file's `resources` names for it (the audit table's PutItem never on the
  secrets table, nor the reverse), in policies inline in its role;
  DynamoDB actions only on the table (stream reads only on a table's
  stream); every action on the secrets table held by dynamodb:LeadingKeys
  to exactly the partitions the file's `leading_keys` gives it (the
  partition key prefixes its code names), in a statement on that table
  alone, whose actions all share that list; the file's `leading_keys`
  naming every action of a function on the secrets table and no other; KMS
  only on the key and only under the encryption context the code uses.
- Data: the table on demand, with point-in-time recovery, deletion
  protection, encryption and a retain policy; the KMS key rotating, retained,
  with an alias.
- The key policies: the boundary of each key's use, whatever IAM allows
  (key_policies.py).
- The audit table: only dynamodb:PutItem on it, for every function that
  changes or resolves secrets.
- The idempotency key: an HMAC key; kms:GenerateMac only on it, for
  create only; no other KMS action on it.
- The resolve function: the only one holding kms:Decrypt, reached only by
  its AWS_IAM route (resolve_route.py).
- Functions: arm64 on provided.al2023, 128 MB, a short timeout (longer for
  the publish function, which nobody waits on), X-Ray, JSON logs into a log
  group with a retention period.
- API: stage throttling, every media type binary, 405 with an exact Allow
  header for undeclared methods, and the contract-shaped gateway responses.
- The edge: reserved concurrency for every function, JSON access logs
  without headers, a per-IP WAF rate limit on the stage (edge.py).
- Rollouts: every function behind an alias moved gradually by CodeDeploy,
  rolled back on alarms that cover it; alarms notifying a topic
  (rollouts.py).
- Change events: the audit table's stream, the publish function's mapping
  (its filter, retries, failure queue), its role and alarms
  (change_events.py).

Prints every violation and exits 1 if there is any.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools import ROOT

TEMPLATE = ROOT / "template.yaml"
MANIFEST = ROOT / "deploy" / "function-permissions.json"
# Values for parameters without defaults: the transform needs some.
PARAMETERS = {"JwtIssuer": "https://issuer.example", "JwtJwksUrl": "https://issuer.example/jwks.json"}
ENCRYPTION_CONTEXT_KEYS = {"tenant", "secretId"}
# X-Ray's write actions cannot be scoped to a resource, nor can
# dynamodb:ListStreams (IAM's reference names no resource for it), which an
# event source mapping's poller makes.
LIST_STREAMS = "dynamodb:ListStreams"
RESOURCE_STAR_ALLOWED = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", LIST_STREAMS}
# What a stream's poller reads it with: only on a table's StreamArn.
STREAM_READS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
# The plaintext's only door: whatever the manifest says, no other function
# may decrypt, and nothing but its AWS_IAM route may reach it.
RESOLVER = "ResolveSecretFunction"
# The audit trail is append-only for the functions, and every function that
# changes or reveals a secret must be able to append to it.
AUDIT_TABLE = "AuditTable"
AUDITED = {"CreateSecretFunction", "UpdateSecretFunction", "DeleteSecretFunction", RESOLVER}
# Fingerprints of idempotent creates: an HMAC key, used by create alone.
MAC_KEY = "IdempotencyKey"
MAC_ACTIONS = {"kms:GenerateMac"}
MAC_USER = "CreateSecretFunction"
# Every action on the secrets table is held to the partitions its code
# names with it (crates/secrets-aws/src/dynamo/layout.rs): the manifest's
# `leading_keys`, by function and action, each list a statement's
# ForAllValues:StringLike dynamodb:LeadingKeys. IAM applies it to each item
# of a TransactWriteItems or a BatchGetItem, and to a Query's partition.
SECRETS_TABLE = "SecretsTable"
LEADING_KEYS_OPERATOR = "ForAllValues:StringLike"
LEADING_KEYS = "dynamodb:LeadingKeys"
# Opening values: resolve, and the reseal function a restore invokes (no
# route, no table).
RESEALER = "ResealSecretFunction"
DECRYPTERS = {RESOLVER, RESEALER}
# The reseal function answers envelopes to whoever invokes it: the update
# function alone may, on the alias its canary moves, and nothing else may
# invoke anything.
RESEAL_INVOKER = "UpdateSecretFunction"
RESEAL_ALIAS = f"${{{RESEALER}.Arn}}:live"
# The update function's invoke gives up after SDK_OPERATION_TIMEOUT_MS's
# default (crates/secrets-lambda/src/config/mod.rs).
RESEAL_TIMEOUT_S = 5
MAX_TIMEOUT_S = 15
# The change events' publisher: no caller waits on it, and a batch that
# times out is retried whole, so it may take longer, within bounds.
PUBLISHER = "PublishChangesFunction"
PUBLISH_TIMEOUT_S = 30
BOUNDARY_PARAMETER = "PermissionsBoundaryArn"
MEMORY_MB = 128


def load_sam(path: Path = TEMPLATE) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    sam: dict[str, Any] = yaml_parse(path.read_text())
    return sam


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def transform(sam: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would submit."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform as sam_transform

    class NoManagedPolicies(ManagedPolicyLoader):
        """Our roles name no managed policy, so nothing needs looking up."""

        def __init__(self) -> None:
            pass

        def load(self) -> dict[str, str]:
            return {}

    packaged = json.loads(json.dumps(sam))
    # As `sam package` does: local code paths become S3 locations.
    packaged.get("Globals", {}).get("Function", {})["CodeUri"] = "s3://bucket/code.zip"
    for resource in packaged["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.get("Properties", {}).pop("CodeUri", None)
    # The translator warns about feature toggles it was not given; noise here.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    cfn: dict[str, Any] = sam_transform(packaged, PARAMETERS, NoManagedPolicies())
    return cfn


# --- helpers ----------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resources_of(cfn: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in cfn.get("Resources", {}).items():
        if resource.get("Type") == kind:
            yield name, resource


def getatt_target(value: Any) -> str | None:
    """`X` for `{"Fn::GetAtt": ["X", "Arn"]}` (or `"X.Arn"`), else None."""
    parts = getatt_parts(value)
    return parts[0] if parts else None


def getatt_parts(value: Any) -> tuple[str, str] | None:
    """(`X`, `Arn`) for `{"Fn::GetAtt": ["X", "Arn"]}` (or `"X.Arn"`), else None."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        name, _, attribute = (".".join(map(str, target)) if isinstance(target, list) else str(target)).partition(".")
        return name, attribute
    return None


def ref_target(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def sub_text(value: Any) -> str | None:
    """A string, or the template of a `Fn::Sub` without variables of its own."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        sub = value["Fn::Sub"]
        if isinstance(sub, str):
            return sub
        if isinstance(sub, list) and len(sub) == 2 and isinstance(sub[0], str) and not sub[1]:
            return sub[0]
    return None


def aliases_of(cfn: dict[str, Any], function: str) -> set[str]:
    """The logical ids of the aliases of `function`."""
    return {
        name
        for name, alias in resources_of(cfn, "AWS::Lambda::Alias")
        if ref_target(alias.get("Properties", {}).get("FunctionName")) == function
    }


def statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role.get("Properties", {}).get("Policies", []):
        yield from as_list(policy.get("PolicyDocument", {}).get("Statement", []))


def only_resource(cfn_resource_names: set[str], resources: list[Any]) -> bool:
    return all(getatt_target(resource) in cfn_resource_names for resource in resources)


def resource_name(resource: Any) -> str:
    """A statement's resource as deploy/function-permissions.json names it:
    `X` for `X.Arn`, `X.Attr` for another attribute, a `Fn::Sub`'s text as
    written, `*`; anything else as its JSON, which the file never names."""
    parts = getatt_parts(resource)
    if parts is not None:
        name, attribute = parts
        return name if attribute == "Arn" else f"{name}.{attribute}"
    text = sub_text(resource)
    return text if text is not None else json.dumps(resource, sort_keys=True)


def only_attribute(cfn_resource_names: set[str], attribute: str, resources: list[Any]) -> bool:
    """Every resource is `Fn::GetAtt <one of the names>.<attribute>`."""
    return all(
        (parts := getatt_parts(resource)) is not None and parts[0] in cfn_resource_names and parts[1] == attribute
        for resource in resources
    )


# --- checks -----------------------------------------------------------------


def check_iam(cfn: dict[str, Any]) -> Iterator[str]:
    for kind in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for name, resource in resources_of(cfn, kind):
            properties = resource.get("Properties", {})
            if properties.get("ManagedPolicyArns"):
                yield f"{name}: managed policies are not allowed (their actions escape this check)"
            # The pipeline's CloudFormation role makes no role without it
            # (deploy/pipeline.yaml, StackRoleBoundary).
            if kind == "AWS::IAM::Role" and BOUNDARY_PARAMETER not in json.dumps(properties.get("PermissionsBoundary")):
                yield f"{name}: must carry the permissions boundary {BOUNDARY_PARAMETER}"
            documents = [policy.get("PolicyDocument", {}) for policy in properties.get("Policies", [])]
            documents.append(properties.get("PolicyDocument", {}))
            for document in documents:
                for statement in as_list(document.get("Statement", [])):
                    yield from check_statement(name, statement)


def check_statement(name: str, statement: dict[str, Any]) -> Iterator[str]:
    if "NotAction" in statement or "NotResource" in statement:
        yield f"{name}: NotAction/NotResource grant more than they name"
    actions = [str(action) for action in as_list(statement.get("Action", []))]
    for action in actions:
        if "*" in action or "?" in action:
            yield f"{name}: wildcard action {action}"
    if statement.get("Effect") == "Allow" and "*" in as_list(statement.get("Resource", [])):
        broad = sorted(set(actions) - RESOURCE_STAR_ALLOWED)
        if broad:
            yield f'{name}: Resource "*" for {", ".join(broad)}'


def check_functions(cfn: dict[str, Any], manifest: dict[str, Any]) -> Iterator[str]:
    baseline = set(manifest["baseline"])
    expected_functions = set(manifest["functions"])
    event_sources: dict[str, list[str]] = manifest.get("event_sources", {})
    for name in sorted(set(event_sources) - expected_functions):
        yield f"{name}: has event_sources in {MANIFEST.relative_to(ROOT)} but is not one of its functions"
    placements: dict[str, dict[str, list[str]]] = manifest.get("resources", {})
    for name in sorted(set(placements) - expected_functions):
        yield f"{name}: has resources in {MANIFEST.relative_to(ROOT)} but is not one of its functions"
    leading_keys: dict[str, dict[str, list[str]]] = manifest.get("leading_keys", {})
    for name in sorted(set(leading_keys) - expected_functions):
        yield f"{name}: has leading_keys in {MANIFEST.relative_to(ROOT)} but is not one of its functions"
    resources = cfn["Resources"]
    yield from check_attached_policies(cfn)
    tables = {name for name, _ in resources_of(cfn, "AWS::DynamoDB::Table")}
    keys = {name for name, _ in resources_of(cfn, "AWS::KMS::Key")}
    seen = set()
    for name, function in resources_of(cfn, "AWS::Lambda::Function"):
        seen.add(name)
        properties = function.get("Properties", {})
        if properties.get("Runtime") != "provided.al2023":
            yield f"{name}: runtime must be provided.al2023"
        if properties.get("Architectures") != ["arm64"]:
            yield f"{name}: architecture must be arm64"
        if properties.get("MemorySize") != MEMORY_MB:
            yield f"{name}: memory must be {MEMORY_MB} MB"
        longest = PUBLISH_TIMEOUT_S if name == PUBLISHER else MAX_TIMEOUT_S
        if not 0 < int(properties.get("Timeout", 3)) <= longest:
            yield f"{name}: timeout must be at most {longest} s"
        if properties.get("TracingConfig", {}).get("Mode") != "Active":
            yield f"{name}: X-Ray tracing must be active"
        logging = properties.get("LoggingConfig", {})
        log_group = ref_target(logging.get("LogGroup"))
        if logging.get("LogFormat") != "JSON":
            yield f"{name}: logs must be JSON (LoggingConfig.LogFormat)"
        if log_group not in resources or "RetentionInDays" not in resources[log_group].get("Properties", {}):
            yield f"{name}: logs must go to a log group of this stack with a retention period"

        role_name = getatt_target(properties.get("Role"))
        if role_name is None or role_name not in resources:
            yield f"{name}: must use a role defined in this stack"
            continue
        if name not in expected_functions:
            yield f"{name}: not in {MANIFEST.relative_to(ROOT)}"
            continue
        granted: set[str] = set()
        # (resource, action), as the manifest's `resources` names them.
        held: set[tuple[str, str]] = set()
        appends_audit = False
        # Its actions on the secrets table, each held by dynamodb:LeadingKeys.
        on_secrets_table: set[str] = set()
        for statement in statements(resources[role_name]):
            if statement.get("Effect") != "Allow":
                continue
            actions = {str(action) for action in as_list(statement.get("Action", []))}
            granted |= actions
            scope = as_list(statement.get("Resource", []))
            held |= {(resource_name(resource), action) for resource in scope for action in actions}
            # Items on a table's ARN, stream reads on its StreamArn, each
            # alone; ListStreams names no resource (RESOURCE_STAR_ALLOWED).
            dynamodb = {action for action in actions if action.startswith("dynamodb:")} - {LIST_STREAMS}
            if dynamodb & STREAM_READS:
                if not dynamodb <= STREAM_READS or not only_attribute(tables, "StreamArn", scope):
                    yield (
                        f"{role_name}: stream reads ({', '.join(sorted(STREAM_READS))}) belong alone in a "
                        "statement on a table's StreamArn"
                    )
            elif dynamodb and not only_attribute(tables, "Arn", scope):
                yield f"{role_name}: DynamoDB actions must be limited to the table"
            if any(getatt_parts(resource) == (AUDIT_TABLE, "Arn") for resource in scope):
                if actions != {"dynamodb:PutItem"}:
                    yield f"{role_name}: the audit table is append-only: dynamodb:PutItem and nothing else"
                appends_audit = True
            if any(getatt_parts(resource) == (SECRETS_TABLE, "Arn") for resource in scope):
                on_secrets_table |= actions
                yield from check_leading_keys(role_name, statement, actions, scope, leading_keys.get(name, {}))
            if actions & MAC_ACTIONS:
                if actions != MAC_ACTIONS or not only_resource({MAC_KEY}, scope):
                    yield f"{role_name}: kms:GenerateMac belongs alone in a statement on {MAC_KEY}"
                if name != MAC_USER:
                    yield f"{name}: only {MAC_USER} may fingerprint requests (kms:GenerateMac)"
            elif any(action.startswith("kms:") for action in actions):
                if not only_resource(keys - {MAC_KEY}, scope):
                    yield f"{role_name}: KMS actions must be limited to the key"
                context_keys = statement.get("Condition", {}).get("ForAllValues:StringEquals", {})
                if set(as_list(context_keys.get("kms:EncryptionContextKeys", []))) != ENCRYPTION_CONTEXT_KEYS:
                    yield (
                        f"{role_name}: KMS actions must be conditioned on the encryption context keys "
                        f"{sorted(ENCRYPTION_CONTEXT_KEYS)}"
                    )
            if any(action.startswith("lambda:") for action in actions):
                if name != RESEAL_INVOKER:
                    yield f"{name}: only {RESEAL_INVOKER} may invoke a function ({RESEALER}, for a restore)"
                elif actions != {"lambda:InvokeFunction"} or [sub_text(r) for r in scope] != [RESEAL_ALIAS]:
                    yield f"{role_name}: lambda:InvokeFunction alone, on {RESEAL_ALIAS} alone"
            own_log_group = {log_group} if log_group else set()
            if any(action.startswith("logs:") for action in actions) and not only_resource(own_log_group, scope):
                yield f"{role_name}: log actions must be limited to the function's own log group"
        if name in AUDITED and not appends_audit:
            yield f"{name}: must be able to append to the audit table ({AUDIT_TABLE})"
        if "kms:Decrypt" in granted and name not in DECRYPTERS:
            yield f"{name}: only {' and '.join(sorted(DECRYPTERS))} may hold kms:Decrypt"
        polled = set(event_sources.get(name, []))
        needed = baseline | set(manifest["functions"][name]) | polled
        for action in sorted(granted - needed):
            yield f"{name}: holds {action}, which its code does not use"
        for action in sorted(needed - granted):
            needer = "its event source mapping" if action in polled else "its code"
            yield f"{name}: lacks {action}, which {needer} needs"
        yield from check_placements(name, needed - baseline, granted, held, placements.get(name))
        yield from check_leading_keys_cover(
            name, role_name, placements.get(name, {}).get(SECRETS_TABLE, []), on_secrets_table, leading_keys.get(name)
        )
    for missing in sorted(expected_functions - seen):
        yield f"{missing}: listed in {MANIFEST.relative_to(ROOT)} but not in the template"


def check_placements(
    name: str,
    needed: set[str],
    granted: set[str],
    held: set[tuple[str, str]],
    placement: dict[str, list[str]] | None,
) -> Iterator[str]:
    """Each of `needed` (the function's actions but baseline's) granted on
    exactly the resources the manifest's `resources` names for it. Actions
    missing or extra altogether are reported by the caller, once."""
    manifest = MANIFEST.relative_to(ROOT)
    if placement is None:
        yield f"{name}: has no resources in {manifest}"
        return
    expected = {(resource, str(action)) for resource, actions in placement.items() for action in actions}
    placed = {action for _, action in expected}
    for action in sorted(placed - needed):
        yield f"{name}: {manifest} places {action}, which is not one of its actions"
    for action in sorted(needed - placed):
        yield f"{name}: {manifest} names no resource for {action}"
    for resource, action in sorted(expected - held):
        if action in granted:
            yield f"{name}: lacks {action} on {resource}, which {manifest} names for it"
    for resource, action in sorted(held - expected):
        if action in needed:
            yield f"{name}: holds {action} on {resource}, which {manifest} does not name for it"


def check_leading_keys(
    role_name: str,
    statement: dict[str, Any],
    actions: set[str],
    scope: list[Any],
    expected: dict[str, list[str]],
) -> Iterator[str]:
    """A statement on the secrets table: on it alone, and held to exactly
    the partitions the manifest's `leading_keys` gives each of its actions
    (`expected`, the function's), which must all share one list."""
    manifest = MANIFEST.relative_to(ROOT)
    if not only_attribute({SECRETS_TABLE}, "Arn", scope):
        yield (
            f"{role_name}: a statement on {SECRETS_TABLE} names it alone "
            f"(its {LEADING_KEYS} are that table's partitions)"
        )
    lists = {action: sorted(expected[action]) for action in actions if action in expected}
    for action in sorted(actions - set(lists)):
        yield f"{role_name}: {action} on {SECRETS_TABLE}, for which leading_keys in {manifest} names no partitions"
    if len({tuple(partitions) for partitions in lists.values()}) > 1:
        each = "; ".join(f"{action} {partitions}" for action, partitions in sorted(lists.items()))
        yield (
            f"{role_name}: actions held to different {LEADING_KEYS} share a statement on {SECRETS_TABLE} "
            f"({each}): one statement for each list"
        )
        return
    condition = statement.get("Condition")
    for action, partitions in sorted(lists.items()):
        if condition != {LEADING_KEYS_OPERATOR: {LEADING_KEYS: partitions}}:
            yield (
                f"{role_name}: {action} on {SECRETS_TABLE} only under {LEADING_KEYS_OPERATOR} "
                f"{LEADING_KEYS} {partitions} (leading_keys in {manifest}), and no other condition"
            )


# What a leading_keys pattern may be: a kind of partition, `TENANT#*`.
PARTITION_PATTERN = re.compile(r"[A-Z]+#\*")


def check_leading_keys_cover(
    name: str,
    role_name: str,
    placed: list[str],
    on_secrets_table: set[str],
    partitions: dict[str, list[str]] | None,
) -> Iterator[str]:
    """The manifest's `leading_keys` of function `name` names exactly its
    actions on the secrets table (as its `resources` places them), each with
    a sorted list, and the role grants each of them there."""
    manifest = MANIFEST.relative_to(ROOT)
    if partitions is None:
        if placed:
            yield f"{name}: acts on {SECRETS_TABLE} but has no leading_keys in {manifest}"
        return
    for action in sorted(set(placed) - set(partitions)):
        yield f"{name}: leading_keys in {manifest} names no partitions for {action} on {SECRETS_TABLE}"
    for action in sorted(set(partitions) - set(placed)):
        yield (
            f"{name}: leading_keys in {manifest} names {action}, which its resources do not place on {SECRETS_TABLE}"
        )
    for action, listed in sorted(partitions.items()):
        if not listed or listed != sorted(set(listed)):
            yield f"{name}: leading_keys in {manifest} for {action} must be a sorted list without repeats"
        # StringLike reads `?` and `*` as wildcards: only a prefix of capitals
        # and `#`, then one `*`, names a kind of partition and nothing wider
        # (`?*`, what the code's unreadable partition would ask for, is all).
        for pattern in listed:
            if not PARTITION_PATTERN.fullmatch(pattern):
                yield (
                    f"{name}: leading_keys in {manifest} for {action}: {pattern!r} is not a partition prefix "
                    "(capitals ending in #, then *)"
                )
        if action not in on_secrets_table:
            yield (
                f"{role_name}: grants {action} on {SECRETS_TABLE} nowhere, which leading_keys in {manifest} "
                f"holds to {LEADING_KEYS} {sorted(listed)}"
            )


def check_attached_policies(cfn: dict[str, Any]) -> Iterator[str]:
    """A function's role holds its policies inline, where the checks above
    read them: no policy resource attaches more to it."""
    roles = {
        role
        for _, function in resources_of(cfn, "AWS::Lambda::Function")
        if (role := getatt_target(function.get("Properties", {}).get("Role"))) is not None
    }
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for name, policy in resources_of(cfn, kind):
            for role in as_list(policy.get("Properties", {}).get("Roles", [])):
                target = ref_target(role)
                if target is not None and target in roles:
                    yield (
                        f"{name}: attaches to {target}, a function's role: its policies belong inline "
                        "(checked against deploy/function-permissions.json)"
                    )


def check_reseal(cfn: dict[str, Any]) -> Iterator[str]:
    """No resource policy lets anyone else (a service, another account)
    invoke the reseal function or its alias, however it is named; restores
    alone can never throttle it; it stops when its caller gives up."""
    targets = {RESEALER} | aliases_of(cfn, RESEALER)
    for name, permission in resources_of(cfn, "AWS::Lambda::Permission"):
        function = permission.get("Properties", {}).get("FunctionName")
        named = ref_target(function) or getatt_target(function) or sub_text(function) or ""
        if named in targets or any(target in named for target in targets):
            yield f"{name}: lets someone besides {RESEAL_INVOKER}'s role invoke {RESEALER}"
    resources = cfn.get("Resources", {})
    if RESEALER not in resources or RESEAL_INVOKER not in resources:
        return
    reseal, invoker = (resources[name].get("Properties", {}) for name in (RESEALER, RESEAL_INVOKER))
    concurrency = "ReservedConcurrentExecutions"
    if reseal.get(concurrency) != invoker.get(concurrency):
        yield (
            f"{RESEALER}: must reserve {RESEAL_INVOKER}'s concurrency ({concurrency}): each of its "
            "instances waits on one reseal at most, so restores never throttle it"
        )
    if float(reseal.get("Timeout", 3)) > RESEAL_TIMEOUT_S:
        yield f"{RESEALER}: its timeout must be at most the invoke's bound, {RESEAL_TIMEOUT_S} s"


def check_data(cfn: dict[str, Any]) -> Iterator[str]:
    tables = list(resources_of(cfn, "AWS::DynamoDB::Table"))
    if not tables:
        yield "the template has no DynamoDB table"
    for name, table in tables:
        properties = table.get("Properties", {})
        if properties.get("BillingMode") != "PAY_PER_REQUEST":
            yield f"{name}: must be on-demand (BillingMode PAY_PER_REQUEST)"
        if properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is not True:
            yield f"{name}: point-in-time recovery must be enabled"
        if properties.get("DeletionProtectionEnabled") is not True:
            yield f"{name}: deletion protection must be enabled"
        if properties.get("SSESpecification", {}).get("SSEEnabled") is not True:
            yield f"{name}: server-side encryption must be enabled"
        yield from check_retained(name, table)

    keys = list(resources_of(cfn, "AWS::KMS::Key"))
    if not keys:
        yield "the template has no KMS key"
    aliased = {
        ref_target(alias.get("Properties", {}).get("TargetKeyId")) for _, alias in resources_of(cfn, "AWS::KMS::Alias")
    }
    for name, key in keys:
        properties = key.get("Properties", {})
        # KMS rotates symmetric encryption keys only (not HMAC keys).
        symmetric = properties.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
        if symmetric and properties.get("EnableKeyRotation") is not True:
            yield f"{name}: key rotation must be enabled"
        if name == MAC_KEY and (
            properties.get("KeySpec") != "HMAC_256" or properties.get("KeyUsage") != "GENERATE_VERIFY_MAC"
        ):
            yield f"{name}: must be an HMAC_256 key for GENERATE_VERIFY_MAC"
        if name not in aliased:
            yield f"{name}: needs an alias"
        yield from check_retained(name, key)

    for name, group in resources_of(cfn, "AWS::Logs::LogGroup"):
        if "RetentionInDays" not in group.get("Properties", {}):
            yield f"{name}: log groups need a retention period"


def check_retained(name: str, resource: dict[str, Any]) -> Iterator[str]:
    for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
        if resource.get(policy) != "Retain":
            yield f"{name}: {policy} must be Retain"


def check_api(cfn: dict[str, Any]) -> Iterator[str]:
    stages = list(resources_of(cfn, "AWS::ApiGateway::Stage"))
    if not stages:
        yield "the template has no API Gateway stage"
    for name, stage in stages:
        settings = stage.get("Properties", {}).get("MethodSettings", [])
        if not any("ThrottlingRateLimit" in s and "ThrottlingBurstLimit" in s for s in settings):
            yield f"{name}: stage throttling (rate and burst) must be set"
    # SAM writes gateway responses into the API's OpenAPI body.
    responses: dict[str, Any] = {}
    for name, api in resources_of(cfn, "AWS::ApiGateway::RestApi"):
        body = api.get("Properties", {}).get("Body", {})
        responses.update(body.get("x-amazon-apigateway-gateway-responses", {}))
        if "*/*" not in body.get("x-amazon-apigateway-binary-media-types", []):
            yield f"{name}: every media type must be binary (*/*), so bodies reach the functions byte for byte"
        for path, methods in body.get("paths", {}).items():
            yield from check_other_methods(path, methods)
    throttled = responses.get("THROTTLED", {})
    headers = throttled.get("responseParameters", {})
    if (
        str(throttled.get("statusCode")) != "429"
        or "problem+json" not in headers.get("gatewayresponse.header.Content-Type", "")
        or "gatewayresponse.header.Retry-After" not in headers
    ):
        yield "THROTTLED gateway response must be a 429 application/problem+json with Retry-After"
    for response_type in ("UNAUTHORIZED", "ACCESS_DENIED", "REQUEST_TOO_LARGE", "DEFAULT_4XX", "DEFAULT_5XX"):
        templates = responses.get(response_type, {}).get("responseTemplates", {})
        body = templates.get("application/json", "")
        if '"message"' not in body or '"type"' not in body:
            yield f"{response_type} gateway response must use the contract's ErrorResponse shape"


HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def check_other_methods(path: str, methods: dict[str, Any]) -> Iterator[str]:
    """A routed path answers its undeclared methods 405 with an exact Allow."""
    declared = sorted(method.upper() for method in methods if method in HTTP_METHODS)
    integration = methods.get("x-amazon-apigateway-any-method", {}).get("x-amazon-apigateway-integration", {})
    default = integration.get("responses", {}).get("default", {})
    allow = default.get("responseParameters", {}).get("method.response.header.Allow", "").strip("'")
    if (
        integration.get("type") != "mock"
        or str(default.get("statusCode")) != "405"
        or sorted(method.strip() for method in allow.split(",")) != declared
    ):
        yield f"{path}: other methods must be answered 405 with Allow: {', '.join(declared)}"


def violations(sam: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    # Their own modules (they import this one's helpers).
    from tools.checks.change_events import check_change_events
    from tools.checks.edge import check_edge
    from tools.checks.key_policies import check_key_policies
    from tools.checks.operators import check_operator_policies
    from tools.checks.resolve_route import check_resolve_route
    from tools.checks.rollouts import check_rollouts

    cfn = transform(sam)
    return [
        *check_iam(cfn),
        *check_functions(cfn, manifest),
        *check_reseal(cfn),
        *check_data(cfn),
        *check_api(cfn),
        *check_resolve_route(cfn),
        *check_key_policies(cfn),
        *check_edge(cfn),
        *check_rollouts(cfn),
        *check_change_events(cfn),
        *check_operator_policies(cfn, manifest),
    ]


def main() -> int:
    found = violations(load_sam(), load_manifest())
    for violation in found:
        print(f"template.yaml: {violation}")
    if not found:
        print("template.yaml: policy checks passed")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
