"""What stands between callers and the functions, checked on the
transformed template (part of `python -m tools.checks.template`):

- Concurrency: every function has reserved concurrency from a template
  parameter, so that one flooded route cannot take the others' (or the
  account's) concurrency, nor spend the account's KMS quota through
  resolve; the parameters' defaults add up to at most MAX_RESERVED, leaving
  the account's unreserved pool (at least 100 of the default 1,000) large.
  But for a function only a stream's event source mapping invokes (no
  route, no resource policy): nobody can flood it, its concurrency is one
  batch per shard, and a reservation below the shard count would stall it.
- Access logs: the stage writes JSON access logs (request id, source IP,
  method, route, status, latencies) into a log group of this stack with a
  retention period; the format names no request header (the Authorization
  header carries bearer tokens and SigV4 signatures), and no method setting
  turns on execution logs' data trace (headers and bodies: tokens, values).
- WAF: the stage is associated with a REGIONAL web ACL holding a per-IP
  rate-based rule that blocks, both under a condition on a parameter that
  is "true" by default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tools.checks.template import aliases_of, getatt_parts, getatt_target, ref_target, resources_of, sub_text

# A fifth of a default account's 1,000: the rest stays for other workloads.
MAX_RESERVED = 200
ACCESS_LOG_VARIABLES = [
    "$context.requestId",
    "$context.identity.sourceIp",
    "$context.httpMethod",
    "$context.resourcePath",
    "$context.status",
    "$context.responseLatency",
    "$context.integrationLatency",
]
# Request headers, bodies and parameters: whatever a caller sends may be a
# token or a value.
UNLOGGABLE = re.compile(r"authorization|\$input|\$method\.request|\.header", re.IGNORECASE)


def parameter_default(cfn: dict[str, Any], name: str | None) -> Any:
    return cfn.get("Parameters", {}).get(name or "", {}).get("Default")


def stream_only(cfn: dict[str, Any], function: str) -> bool:
    """Only a stream's event source mapping invokes `function` (or its
    aliases): no permission lets anyone else."""
    targets = {function} | aliases_of(cfn, function)

    def names(value: Any) -> bool:
        named = ref_target(value) or getatt_target(value) or sub_text(value) or ""
        return named in targets or any(target in named for target in targets)

    mapped = [
        mapping
        for _, mapping in resources_of(cfn, "AWS::Lambda::EventSourceMapping")
        if names(mapping.get("Properties", {}).get("FunctionName"))
    ]
    permitted = any(
        names(permission.get("Properties", {}).get("FunctionName"))
        for _, permission in resources_of(cfn, "AWS::Lambda::Permission")
    )
    # A table's stream, read by Lambda's poller.
    streams = all(
        (parts := getatt_parts(mapping.get("Properties", {}).get("EventSourceArn"))) is not None
        and parts[1] == "StreamArn"
        for mapping in mapped
    )
    return bool(mapped) and streams and not permitted


def check_concurrency(cfn: dict[str, Any]) -> Iterator[str]:
    total = 0
    for name, function in resources_of(cfn, "AWS::Lambda::Function"):
        if stream_only(cfn, name) and "ReservedConcurrentExecutions" not in function.get("Properties", {}):
            continue
        parameter = ref_target(function.get("Properties", {}).get("ReservedConcurrentExecutions"))
        if parameter not in cfn.get("Parameters", {}):
            yield (
                f"{name}: needs reserved concurrency from a template parameter (ReservedConcurrentExecutions: "
                "!Ref ...), or a flood of its requests can take the concurrency every function shares "
                "(and through resolve, the account's KMS quota)"
            )
            continue
        default = parameter_default(cfn, parameter)
        if default is None or int(default) < 1:
            yield f"{parameter}: needs a default of at least 1"
            continue
        total += int(default)
    if total > MAX_RESERVED:
        yield (
            f"the functions' reserved concurrency defaults add up to {total}, more than {MAX_RESERVED}: "
            "the account's unreserved pool (at least 100) is every other function's"
        )


def check_access_logs(cfn: dict[str, Any]) -> Iterator[str]:
    resources = cfn.get("Resources", {})
    for name, stage in resources_of(cfn, "AWS::ApiGateway::Stage"):
        properties = stage.get("Properties", {})
        for setting in properties.get("MethodSettings", []):
            if setting.get("DataTraceEnabled") not in (None, False, "false"):
                yield f"{name}: execution logs' data trace (DataTraceEnabled) logs headers and bodies (tokens, values)"
        access = properties.get("AccessLogSetting", {})
        group = getatt_target(access.get("DestinationArn"))
        if (
            group not in resources
            or resources[group].get("Type") != "AWS::Logs::LogGroup"
            or "RetentionInDays" not in resources[group].get("Properties", {})
        ):
            yield f"{name}: needs access logs (AccessLogSetting) into a log group of this stack with a retention period"
            continue
        log_format = access.get("Format")
        try:
            fields = json.loads(log_format) if isinstance(log_format, str) else None
        except json.JSONDecodeError:
            fields = None
        if not isinstance(fields, dict) or not all(isinstance(value, str) for value in fields.values()):
            yield f"{name}: the access log format must be one JSON object of strings"
            continue
        for variable in ACCESS_LOG_VARIABLES:
            if variable not in fields.values():
                yield f"{name}: the access log format lacks {variable}"
        if UNLOGGABLE.search(log_format or ""):
            yield (
                f"{name}: the access log format must log no request header, body or parameter "
                "(the Authorization header carries bearer tokens and SigV4 signatures)"
            )


def switched_on_by_default(cfn: dict[str, Any], condition: str | None) -> bool:
    """The condition is `Fn::Equals [Ref <parameter>, "true"]`, the parameter "true" by default."""
    equals = cfn.get("Conditions", {}).get(condition or "", {}).get("Fn::Equals", [])
    if not isinstance(equals, list) or len(equals) != 2:
        return False
    refs = [ref_target(side) for side in equals if ref_target(side)]
    return len(refs) == 1 and "true" in equals and str(parameter_default(cfn, refs[0])) == "true"


def limits_each_ip(acl: dict[str, Any]) -> bool:
    properties = acl.get("Properties", {})
    return properties.get("Scope") == "REGIONAL" and any(
        rule.get("Statement", {}).get("RateBasedStatement", {}).get("AggregateKeyType") == "IP"
        and "Block" in rule.get("Action", {})
        for rule in properties.get("Rules", [])
    )


def check_waf(cfn: dict[str, Any]) -> Iterator[str]:
    resources = cfn.get("Resources", {})
    associations = list(resources_of(cfn, "AWS::WAFv2::WebACLAssociation"))
    for name, stage in resources_of(cfn, "AWS::ApiGateway::Stage"):
        api = ref_target(stage.get("Properties", {}).get("RestApiId"))
        # The stage by reference, so that the association waits for it.
        arn = f"/restapis/${{{api}}}/stages/${{{name}}}"
        found = [
            (association_name, association)
            for association_name, association in associations
            if (sub_text(association.get("Properties", {}).get("ResourceArn")) or "").endswith(arn)
        ]
        if not found:
            yield f"{name}: needs a WAF web ACL associated (an AWS::WAFv2::WebACLAssociation naming this stage)"
        for association_name, association in found:
            acl_name = getatt_target(association.get("Properties", {}).get("WebACLArn"))
            acl = resources.get(acl_name or "", {})
            if acl.get("Type") != "AWS::WAFv2::WebACL" or not limits_each_ip(acl):
                yield f"{association_name}: its web ACL needs a REGIONAL per-IP rate-based rule that blocks"
            condition = association.get("Condition")
            if not switched_on_by_default(cfn, condition) or acl.get("Condition") != condition:
                yield (
                    f"{association_name}: the WAF (association and web ACL) must hang on a parameter that is on "
                    'by default (Condition: Fn::Equals [Ref <parameter>, "true"], the parameter\'s Default "true")'
                )


def check_edge(cfn: dict[str, Any]) -> Iterator[str]:
    yield from check_concurrency(cfn)
    yield from check_access_logs(cfn)
    yield from check_waf(cfn)
