"""Offline checks of deploy/pipeline.yaml, the AWS side of the GitHub
pipeline, run by `make test` (`python -m tools.checks.pipeline`):

- Every role GitHub may assume trusts GitHub's OIDC provider for exactly
  this repository's stage environment: `StringEquals` on the token's
  audience (sts.amazonaws.com) and subject (repo:<Repository>:environment:
  <Stage>); no `StringLike`, no wildcard, nothing else trusted. A role
  trusting any repository, branch or environment is the classic hole.
- The deploy role holds what `sam deploy` of the stage's stack needs and
  nothing more: change sets on that stack (and the SAM transform), run as
  the CloudFormation role and importing nothing; the artifact bucket; and
  passing the CloudFormation role to CloudFormation.
- The CloudFormation role holds exactly the actions CloudFormation's
  handlers make for the resource types of the transformed template.yaml
  (their schemas, as cfn-lint carries them), minus those of features the
  stack does not use (EXCLUDED, each with its reason): enough to deploy,
  nothing a handler would not ask for; on every resource ("*") only where
  no name can scope an action (UNSCOPABLE), or a condition holds it to the
  stage's functions (FUNCTION_SCOPED) or to services acting for it
  (VIA_SERVICES); and it makes or changes only
  roles that carry the stack's permissions boundary, which must let the
  template's roles do what they are granted.
- The pipeline's own roles and boundary are named outside the stage's
  prefix, so the CloudFormation role cannot change them.
- samconfig.toml names each stage's stack as the pipeline's roles expect.

Prints every violation and exits 1 if there is any.
"""

from __future__ import annotations

import functools
import json
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tools import ROOT
from tools.checks.template import as_list, load_sam, resources_of, sub_text, transform

PIPELINE = ROOT / "deploy" / "pipeline.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
GITHUB = "token.actions.githubusercontent.com"
SUBJECT = "repo:${Repository}:environment:${Stage}"
STACK_NAME = "cortex-secrets-{stage}"
STACK_ARN = "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/cortex-secrets-${Stage}/*"
SAM_TRANSFORM = "arn:${AWS::Partition}:cloudformation:${AWS::Region}:aws:transform/Serverless-2016-10-31"
# What `sam deploy` calls with the deploy role's credentials.
DEPLOY_ACTIONS = {
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:GetTemplateSummary",
    "cloudformation:TagResource",
    "s3:PutObject",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "iam:PassRole",
}
HANDLERS = ("create", "read", "update", "delete")
# Actions of the CloudFormation role that may name every resource: a KMS
# key or WAF web ACL has no name before it exists, and these CloudWatch Logs
# actions act on the account. The KMS actions DynamoDB and Lambda make on the
# caller's behalf must also be held to those services (kms:ViaService).
UNSCOPABLE = {
    "kms:CreateKey",
    "kms:DescribeKey",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:GetKeyRotationStatus",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:UpdateKeyDescription",
    "kms:ListResourceTags",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:ListAliases",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:DescribeMetricFilters",
    "logs:DescribeIndexPolicies",
    "logs:DescribeResourcePolicies",
    "logs:PutResourcePolicy",
    "logs:DeleteResourcePolicy",
    "logs:CreateLogDelivery",
}
VIA_SERVICES = {"kms:CreateGrant", "kms:RevokeGrant", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}
# Event source mappings are named by a random id: creating (which names no
# resource) and deleting one may be on "*" only where lambda:FunctionArn
# holds them to the stage's functions.
FUNCTION_SCOPED = {"lambda:CreateEventSourceMapping", "lambda:DeleteEventSourceMapping"}
STAGE_FUNCTIONS = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:cortex-secrets-${Stage}-*"
# The role actions a template could escalate with: each only on a role that
# carries the boundary.
BOUNDED_ROLE_ACTIONS = {"iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"}
STAGE_PREFIX = "cortex-secrets-${Stage}-"
# Handler actions the CloudFormation role does not get: features of these
# resource types that template.yaml does not use. A change to the template
# that starts using one fails here until the action is granted.
EXCLUDED_SERVICES = {
    "amplify": "web ACLs are associated with the API stage only",
    "apprunner": "web ACLs are associated with the API stage only",
    "appsync": "web ACLs are associated with the API stage only",
    "bedrock-agentcore": "web ACLs are associated with the API stage only",
    "cognito-idp": "web ACLs are associated with the API stage only",
    "elasticloadbalancing": "web ACLs are associated with the API stage only",
    "ec2": "no function runs in a VPC; no web ACL on a Verified Access instance",
    "elasticfilesystem": "no function mounts a file system",
    "s3files": "no function mounts a file system",
    "kinesis": "no table streams to Kinesis",
    "firehose": "no log group delivers to Firehose",
    "payments": "not an IAM action (cfn-lint's policy reference): only marketplace rule groups need it",
}
EXCLUDED_ACTIONS = {
    **dict.fromkeys(
        [
            "dynamodb:BatchWriteItem",
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "dynamodb:Scan",
            "dynamodb:ImportTable",
            "dynamodb:DescribeImport",
            "s3:GetObjectMetadata",
            "s3:ListBucket",
        ],
        "no table is created from an S3 import (and CloudFormation reads or writes no item)",
    ),
    **dict.fromkeys(
        ["dynamodb:CreateTableReplica", "dynamodb:AssociateTableReplica", "iam:CreateServiceLinkedRole"],
        "no global table (replicas)",
    ),
    **dict.fromkeys(
        [
            "dynamodb:EnableKinesisStreamingDestination",
            "dynamodb:DisableKinesisStreamingDestination",
            "dynamodb:UpdateKinesisStreamingDestination",
        ],
        "no table streams to Kinesis",
    ),
    **dict.fromkeys(
        [
            "iam:AttachRolePolicy",
            "iam:DetachRolePolicy",
            "iam:AttachUserPolicy",
            "iam:DetachUserPolicy",
            "iam:AttachGroupPolicy",
            "iam:DetachGroupPolicy",
        ],
        "the stack attaches no managed policy (tools/checks/template.py forbids them on its roles); "
        "attaching one would be a way around every inline policy check",
    ),
    "iam:CreateServiceLinkedRole": "no global table or auto scaling",
    "iam:DeleteRolePermissionsBoundary": "a role of the stack never drops its permissions boundary",
    "lambda:GetLayerVersion": "no function has layers",
    "lambda:GetCodeSigningConfig": "no code signing configuration",
    "lambda:PassCapacityProvider": "no function runs on a capacity provider",
    "lambda:AssociateRuntimeAlias": "not an IAM action (cfn-lint's policy reference)",
    "codedeploy:RegisterOnPremisesInstance": "Lambda deployments only",
    "logs:PutBearerTokenAuthentication": "no log group takes bearer-token ingestion",
    "s3:REST.PUT.OBJECT": "not an IAM action (an S3 operation name in the schema)",
}


def load(path: Path = PIPELINE) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    pipeline: dict[str, Any] = yaml_parse(path.read_text())
    return pipeline


@functools.cache
def handler_actions(resource_type: str) -> frozenset[str]:
    """The actions CloudFormation's handlers of a resource type may make."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    handlers = schema.get("handlers", {})
    return frozenset(action for handler in HANDLERS for action in handlers.get(handler, {}).get("permissions", []))


def needed_by(app: dict[str, Any]) -> set[str]:
    """What CloudFormation needs to create, update and delete every resource
    of the transformed app template."""
    types = {resource.get("Type", "") for resource in app.get("Resources", {}).values()}
    return {action for kind in types for action in handler_actions(kind)}


def excluded(action: str) -> bool:
    return action in EXCLUDED_ACTIONS or action.split(":")[0] in EXCLUDED_SERVICES


def allowed_actions(role: dict[str, Any]) -> set[str]:
    return {
        str(action)
        for policy in role.get("Properties", {}).get("Policies", [])
        for statement in as_list(policy.get("PolicyDocument", {}).get("Statement", []))
        if statement.get("Effect") == "Allow"
        for action in as_list(statement.get("Action", []))
    }


def trust_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    document = role.get("Properties", {}).get("AssumeRolePolicyDocument", {})
    return [statement for statement in as_list(document.get("Statement", [])) if isinstance(statement, dict)]


def trusts_github(role: dict[str, Any]) -> bool:
    return any("Federated" in statement.get("Principal", {}) for statement in trust_statements(role))


def check_github_trust(name: str, role: dict[str, Any]) -> Iterator[str]:
    for statement in trust_statements(role):
        if statement.get("Effect") != "Allow":
            continue
        if as_list(statement.get("Action")) != ["sts:AssumeRoleWithWebIdentity"] or "Federated" not in statement.get(
            "Principal", {}
        ):
            yield f"{name}: trusts something besides GitHub's OIDC tokens"
            continue
        if GITHUB not in json.dumps(statement["Principal"]["Federated"]):
            yield f"{name}: must trust the provider {GITHUB}"
        condition = statement.get("Condition", {})
        if set(condition) != {"StringEquals"}:
            yield (
                f"{name}: the token's claims must be compared with StringEquals alone (no patterns), "
                f"not {sorted(condition)}"
            )
        equals = condition.get("StringEquals", {})
        if equals.get(f"{GITHUB}:aud") != "sts.amazonaws.com":
            yield f"{name}: must require the audience sts.amazonaws.com ({GITHUB}:aud)"
        if sub_text(equals.get(f"{GITHUB}:sub")) != SUBJECT:
            yield (
                f"{name}: must trust exactly this repository's stage environment "
                f"({GITHUB}:sub = {SUBJECT}), not {json.dumps(equals.get(f'{GITHUB}:sub'))}"
            )


def policy_statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role.get("Properties", {}).get("Policies", []):
        yield from as_list(policy.get("PolicyDocument", {}).get("Statement", []))


def check_deploy_role(name: str, role: dict[str, Any], passable: set[str]) -> Iterator[str]:
    for action in sorted(allowed_actions(role) - DEPLOY_ACTIONS):
        yield f"{name}: holds {action}, which sam deploy does not need"
    for statement in policy_statements(role):
        actions = {str(action) for action in as_list(statement.get("Action", []))}
        resources = as_list(statement.get("Resource"))
        texts = [sub_text(resource) or json.dumps(resource) for resource in resources]
        if any(action.startswith("cloudformation:") for action in actions) and not set(texts) <= {
            STACK_ARN,
            SAM_TRANSFORM,
        }:
            yield f"{name}: CloudFormation actions only on the stage's stack (and the SAM transform), not {texts}"
        if "cloudformation:CreateChangeSet" in actions:
            condition = statement.get("Condition", {})
            if role_of(condition.get("StringEquals", {}).get("cloudformation:RoleArn")) not in passable:
                yield f"{name}: its change sets must run as the CloudFormation role (cloudformation:RoleArn)"
            if condition.get("Null", {}).get("cloudformation:ImportResourceTypes") != "true":
                yield f"{name}: its change sets must import no resource (Null cloudformation:ImportResourceTypes)"
        if any(action.startswith("s3:") for action in actions) and not all(
            "${ArtifactBucket.Arn}" in text or role_of(resource) == "ArtifactBucket"
            for resource, text in zip(resources, texts, strict=True)
        ):
            yield f"{name}: S3 actions only on the artifact bucket, not {texts}"
        if "iam:PassRole" in actions:
            service = statement.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService")
            if service != "cloudformation.amazonaws.com" or not all(role_of(r) in passable for r in resources):
                yield f"{name}: may pass only the CloudFormation role, only to cloudformation.amazonaws.com"


def role_of(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return None


def check_cloudformation_role(name: str, role: dict[str, Any], needed: set[str], boundaries: set[str]) -> Iterator[str]:
    trusted = [statement.get("Principal") for statement in trust_statements(role)]
    if trusted != [{"Service": "cloudformation.amazonaws.com"}]:
        yield f"{name}: must be assumable by CloudFormation alone"
    granted = allowed_actions(role)
    for action in sorted(granted - needed):
        yield f"{name}: holds {action}, which no CloudFormation handler of the stack's resources makes"
    for action in sorted(granted & {action for action in needed if excluded(action)}):
        yield f"{name}: holds {action}, excluded as unused ({reason(action)})"
    for action in sorted({action for action in needed if not excluded(action)} - granted):
        yield f"{name}: lacks {action}, which CloudFormation needs for the stack's resources"
    for statement in policy_statements(role):
        actions = {str(action) for action in as_list(statement.get("Action", []))}
        condition = statement.get("Condition", {})
        if "*" in as_list(statement.get("Resource")):
            via = condition.get("StringEquals", {}).get("kms:ViaService")
            functions = sub_text(condition.get("ArnLike", {}).get("lambda:FunctionArn")) == STAGE_FUNCTIONS
            scoped = (VIA_SERVICES if via else set()) | (FUNCTION_SCOPED if functions else set())
            for action in sorted(actions - UNSCOPABLE - scoped):
                yield f'{name}: {action} on Resource "*": scope it to the stage\'s resources'
        bounded = condition.get("StringEquals", {}).get("iam:PermissionsBoundary")
        for action in sorted(actions & BOUNDED_ROLE_ACTIONS):
            if ref_of(bounded) not in boundaries:
                yield f"{name}: {action} only on roles carrying the stack's permissions boundary"


def ref_of(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def check_boundary(pipeline: dict[str, Any], boundaries: set[str], app: dict[str, Any]) -> Iterator[str]:
    """The boundary must let the stack's roles do what they are granted, and
    every role of the stack must carry it."""
    if len(boundaries) != 1:
        yield f"exactly one permissions boundary for the stack's roles, not {sorted(boundaries)}"
        return
    (boundary,) = boundaries
    document = pipeline["Resources"][boundary].get("Properties", {}).get("PolicyDocument", {})
    ceiling = {
        str(action)
        for statement in as_list(document.get("Statement", []))
        if statement.get("Effect") == "Allow"
        for action in as_list(statement.get("Action", []))
    }
    for role_name, role in resources_of(app, "AWS::IAM::Role"):
        for statement in policy_statements(role):
            if statement.get("Effect") != "Allow":
                continue
            for action in sorted(set(map(str, as_list(statement.get("Action", [])))) - ceiling):
                yield f"{boundary}: lets no role do {action}, which template.yaml's {role_name} needs"


def check_own_names(pipeline: dict[str, Any]) -> Iterator[str]:
    """The pipeline's own roles and policies must not be named like the
    stack's, which the CloudFormation role may change."""
    for kind, key in (("AWS::IAM::Role", "RoleName"), ("AWS::IAM::ManagedPolicy", "ManagedPolicyName")):
        for name, resource in resources_of(pipeline, kind):
            text = sub_text(resource.get("Properties", {}).get(key)) or ""
            if not text or text.startswith(STAGE_PREFIX):
                yield f"{name}: needs a name outside {STAGE_PREFIX}*, which the CloudFormation role may change"


def reason(action: str) -> str:
    return EXCLUDED_ACTIONS.get(action) or EXCLUDED_SERVICES[action.split(":")[0]]


def check_stack_names(pipeline: dict[str, Any], samconfig: Mapping[str, Any]) -> Iterator[str]:
    stages = pipeline.get("Parameters", {}).get("Stage", {}).get("AllowedValues", [])
    for stage in stages:
        stack = samconfig.get(stage, {}).get("global", {}).get("parameters", {}).get("stack_name")
        if stack != STACK_NAME.format(stage=stage):
            yield f"samconfig.toml: stage {stage} must deploy the stack {STACK_NAME.format(stage=stage)}, not {stack}"


def violations(pipeline: dict[str, Any], app: dict[str, Any], samconfig: Mapping[str, Any]) -> list[str]:
    roles = dict(resources_of(pipeline, "AWS::IAM::Role"))
    boundaries = {name for name, _ in resources_of(pipeline, "AWS::IAM::ManagedPolicy")}
    github_roles = {name for name, role in roles.items() if trusts_github(role)}
    found: list[str] = []
    if not github_roles:
        found.append("no role trusts GitHub's OIDC provider")
    passable = set(roles) - github_roles
    for name in sorted(github_roles):
        found += check_github_trust(name, roles[name])
        found += check_deploy_role(name, roles[name], passable)
    needed = needed_by(app)
    for name in sorted(passable):
        found += check_cloudformation_role(name, roles[name], needed, boundaries)
    found += check_boundary(pipeline, boundaries, app)
    found += check_own_names(pipeline)
    found += check_stack_names(pipeline, samconfig)
    return found


def main() -> int:
    found = violations(load(), transform(load_sam()), tomllib.loads(SAMCONFIG.read_text()))
    for violation in found:
        print(f"deploy/pipeline.yaml: {violation}")
    if not found:
        print("deploy/pipeline.yaml: policy checks passed")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
