"""Each function's environment as it would be deployed: template.yaml's
(Globals.Function.Environment.Variables under the function's own, as SAM
merges them), its intrinsics resolved as CloudFormation would with local
values, plus what Lambda itself sets in every execution environment.

Only the intrinsics the functions' environments and logging configuration
use are understood (Ref, Fn::GetAtt, Fn::If with the template's Conditions,
Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Sub of names); anything else, and
any Ref or GetAtt without a local value, is an error, so that a new
variable the template adds cannot be skipped silently.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

FUNCTION_TYPE = "AWS::Serverless::Function"
# Lambda's reserved variables: a function's configuration may not set them
# (Lambda refuses it), so the template setting one is an error here too.
RESERVED = {
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
}


class NoValue:
    """`AWS::NoValue`: the variable is not set at all."""


NO_VALUE = NoValue()


class TemplateError(Exception):
    pass


def functions(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{logical id: properties} of every function, Globals.Function under
    its own properties (SAM's merge: maps merged key by key, the function's
    value winning; anything else replaced)."""
    globals_ = sam.get("Globals", {}).get("Function", {})
    return {
        name: merge(globals_, resource.get("Properties", {}))
        for name, resource in sam["Resources"].items()
        if resource.get("Type") == FUNCTION_TYPE
    }


def merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base.get(key), value) if key in base else value
        return merged
    return override


@dataclass
class Resolver:
    """CloudFormation's view of the template for one stack: parameter values
    (the given ones, else their defaults), physical ids of resources and
    their attributes, and pseudo parameters."""

    sam: dict[str, Any]
    parameters: dict[str, str]
    resources: dict[str, str]
    attributes: dict[tuple[str, str], str]
    pseudo: dict[str, str] = field(default_factory=dict)

    def value(self, node: Any) -> str | NoValue:
        if isinstance(node, bool):
            return "true" if node else "false"
        if isinstance(node, str | int | float):
            # CloudFormation hands every environment value over as a string.
            return str(node)
        if not isinstance(node, dict) or len(node) != 1:
            raise TemplateError(f"not a scalar or an intrinsic: {node!r}")
        ((function, argument),) = node.items()
        if function == "Ref":
            return self.ref(argument)
        if function == "Fn::GetAtt":
            target, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            if (target, attribute) not in self.attributes:
                raise TemplateError(f"no local value for Fn::GetAtt {target}.{attribute}")
            return self.attributes[(target, attribute)]
        if function == "Fn::If":
            condition, when_true, when_false = argument
            return self.value(when_true if self.condition(condition) else when_false)
        if function == "Fn::Sub" and isinstance(argument, str):
            return re.sub(r"\$\{([\w:]+)\}", lambda match: self.text(self.ref(match.group(1))), argument)
        raise TemplateError(f"{function} is not understood here")

    def text(self, value: str | NoValue) -> str:
        if isinstance(value, NoValue):
            raise TemplateError("AWS::NoValue where a string is needed")
        return value

    def ref(self, name: str) -> str | NoValue:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        declared = self.sam.get("Parameters", {})
        if name in declared:
            if name in self.parameters:
                return self.parameters[name]
            if "Default" not in declared[name]:
                raise TemplateError(f"parameter {name} has no default and no value was given")
            return self.text(self.value(declared[name]["Default"]))
        if name in self.resources:
            return self.resources[name]
        raise TemplateError(f"no local value for Ref {name}")

    def condition(self, node: Any) -> bool:
        if isinstance(node, str):
            return self.condition(self.sam["Conditions"][node])
        ((function, argument),) = node.items()
        if function == "Fn::Equals":
            left, right = (self.value(side) for side in argument)
            return left == right
        if function == "Fn::Not":
            return not self.condition(argument[0])
        if function == "Fn::And":
            return all(self.condition(part) for part in argument)
        if function == "Fn::Or":
            return any(self.condition(part) for part in argument)
        if function == "Condition":
            return self.condition(argument)
        raise TemplateError(f"{function} is not understood in a condition")

    def variables(self, properties: dict[str, Any]) -> dict[str, str]:
        """A function's Environment.Variables, resolved; NoValue drops one."""
        declared = properties.get("Environment", {}).get("Variables", {})
        resolved = {}
        for name, node in declared.items():
            try:
                resolved[name] = self.value(node)
            except TemplateError as error:
                raise TemplateError(f"{name}: {error}") from error
        return {name: value for name, value in resolved.items() if not isinstance(value, NoValue)}


@dataclass(frozen=True)
class Sandbox:
    """What Lambda knows of one execution environment beyond the template."""

    function_name: str
    version: str
    region: str
    runtime_api: str
    access_key_id: str
    secret_access_key: str
    session_token: str


def lambda_variables(properties: dict[str, Any], resolver: Resolver, sandbox: Sandbox) -> dict[str, str]:
    """The variables Lambda sets for a custom runtime (provided.al2023) in
    every execution environment: the documented reserved ones that a
    function, its runtime client or its SDK can read. LD_LIBRARY_PATH is left
    out: it names the image's directories, which under qemu's -L would be
    looked up on the host first."""
    logging = properties.get("LoggingConfig", {})
    variables = {
        "_HANDLER": resolver.text(resolver.value(properties["Handler"])),
        "AWS_LAMBDA_RUNTIME_API": sandbox.runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": sandbox.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": sandbox.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": resolver.text(resolver.value(properties.get("MemorySize", 128))),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[{sandbox.version}]local",
        "AWS_REGION": sandbox.region,
        "AWS_DEFAULT_REGION": sandbox.region,
        "AWS_ACCESS_KEY_ID": sandbox.access_key_id,
        "AWS_SECRET_ACCESS_KEY": sandbox.secret_access_key,
        "AWS_SESSION_TOKEN": sandbox.session_token,
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    }
    if "LogGroup" in logging:
        variables["AWS_LAMBDA_LOG_GROUP_NAME"] = resolver.text(resolver.value(logging["LogGroup"]))
    else:
        variables["AWS_LAMBDA_LOG_GROUP_NAME"] = f"/aws/lambda/{sandbox.function_name}"
    # Lambda sets these only under advanced logging controls (LoggingConfig).
    if "LogFormat" in logging:
        variables["AWS_LAMBDA_LOG_FORMAT"] = resolver.text(resolver.value(logging["LogFormat"]))
    if "ApplicationLogLevel" in logging:
        variables["AWS_LAMBDA_LOG_LEVEL"] = resolver.text(resolver.value(logging["ApplicationLogLevel"]))
    if properties.get("Tracing") == "Active":
        # Where X-Ray's daemon listens; nothing does here, as nothing sends.
        variables["AWS_XRAY_DAEMON_ADDRESS"] = "169.254.79.129:2000"
        variables["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"
    return variables


def deployed_environment(
    properties: dict[str, Any], resolver: Resolver, sandbox: Sandbox, overrides: dict[str, str]
) -> dict[str, str]:
    """Lambda's variables, the template's over them (it may change the
    unreserved ones, such as TZ or AWS_LAMBDA_LOG_LEVEL), then `overrides`:
    the local stand-ins, such as the endpoint of the emulator."""
    template = resolver.variables(properties)
    clashes = sorted(set(template) & RESERVED)
    if clashes:
        raise TemplateError(f"the template sets variables Lambda reserves: {', '.join(clashes)}")
    return {**lambda_variables(properties, resolver, sandbox), **template, **overrides}
