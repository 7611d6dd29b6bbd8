"""The resolve routes' door, checked on the transformed template (part of
`python -m tools.checks.template`): the plaintext is reachable only through
`GET /internal/v1/tenants/{tenant}/secrets/{tagOrId}` (one secret) and
`GET /internal/v1/tenants/{tenant}/secrets` (a batch) with SigV4 (AWS_IAM)
authorization, invoked by API Gateway under its own permission, so that IAM
policies on the tenant's paths alone decide which tenants a caller may read.

- The methods integrating the resolve function are exactly those routes, marked
  `security: AWS_IAM`, and the API defines that scheme as SigV4
  (`x-amazon-apigateway-authtype: awsSigv4`): without the definition,
  nothing says the route needs a signature.
- Its integration has no `credentials` (SAM's CALLER_CREDENTIALS default
  would make every caller need lambda:InvokeFunction, a door around the
  per-tenant paths).
- The function's only resource policy lets API Gateway invoke it on that
  route; no IAM policy in the stack grants lambda:InvokeFunction on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tools.checks.template import RESOLVER, aliases_of, as_list, getatt_target, ref_target, resources_of

RESOLVE_PATH = "/internal/v1/tenants/{tenant}/secrets/{tagOrId}"
RESOLVE_MANY_PATH = "/internal/v1/tenants/{tenant}/secrets"
RESOLVE_ROUTES = [(RESOLVE_MANY_PATH, "get"), (RESOLVE_PATH, "get")]
# The permissions' SourceArns, after the API id and stage: each ends so.
RESOLVE_SOURCES = ("/GET/internal/v1/tenants/*/secrets/*", "/GET/internal/v1/tenants/*/secrets")
SCHEME = "AWS_IAM"


def integrates_resolver(method: dict[str, Any], aliases: set[str]) -> bool:
    """Whether the method invokes the resolve function, itself or through
    one of its `aliases`."""
    uri = json.dumps(method.get("x-amazon-apigateway-integration", {}).get("uri"))
    return f"${{{RESOLVER}.Arn}}" in uri or any(f"${{{alias}}}" in uri for alias in aliases)


def check_resolve_route(cfn: dict[str, Any]) -> Iterator[str]:
    aliases = aliases_of(cfn, RESOLVER)
    for name, api in resources_of(cfn, "AWS::ApiGateway::RestApi"):
        body = api.get("Properties", {}).get("Body", {})
        routes = [
            (path, verb, method)
            for path, methods in body.get("paths", {}).items()
            for verb, method in methods.items()
            if isinstance(method, dict) and integrates_resolver(method, aliases)
        ]
        if sorted((path, verb) for path, verb, _ in routes) != RESOLVE_ROUTES:
            found = [f"{verb.upper()} {path}" for path, verb, _ in routes]
            yield (
                f"{name}: {RESOLVER} must be reached by GET {RESOLVE_PATH} and GET {RESOLVE_MANY_PATH} alone, "
                f"not {found}"
            )
        for path, verb, method in routes:
            if method.get("security") != [{SCHEME: []}]:
                yield f"{name}: {verb.upper()} {path} must require {SCHEME} (SigV4) authorization"
            if "credentials" in method.get("x-amazon-apigateway-integration", {}):
                yield f"{name}: {verb.upper()} {path} must not invoke with the caller's credentials (InvokeRole: NONE)"
        scheme = body.get("components", {}).get("securitySchemes", {}).get(SCHEME, {})
        if routes and scheme.get("x-amazon-apigateway-authtype") != "awsSigv4":
            yield f"{name}: the {SCHEME} security scheme must be defined as awsSigv4"
    permitted = set()
    for name, permission in resources_of(cfn, "AWS::Lambda::Permission"):
        properties = permission.get("Properties", {})
        if ref_target(properties.get("FunctionName")) not in {RESOLVER, *aliases}:
            continue
        source = source_template(properties.get("SourceArn"))
        if properties.get("Principal") != "apigateway.amazonaws.com" or not source.endswith(RESOLVE_SOURCES):
            yield f"{name}: {RESOLVER} may be invoked only by API Gateway on its GET routes"
        permitted |= {route for route in RESOLVE_SOURCES if source.endswith(route)}
    for route in RESOLVE_SOURCES:
        if route not in permitted:
            yield f"{RESOLVER}: no permission lets API Gateway invoke it on {route}"
    for kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::Role"):
        for name, resource in resources_of(cfn, kind):
            properties = resource.get("Properties", {})
            documents = [properties.get("PolicyDocument", {})] + [
                policy.get("PolicyDocument", {}) for policy in properties.get("Policies", [])
            ]
            for document in documents:
                for statement in as_list(document.get("Statement", [])):
                    if invokes_resolver(statement):
                        yield f"{name}: grants lambda:InvokeFunction on {RESOLVER}: a door around the IAM route"


def source_template(value: Any) -> str:
    """A permission's SourceArn as written: the text of its `Fn::Sub`."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub[0] if isinstance(sub, list) else sub)
    return str(value)


def invokes_resolver(statement: dict[str, Any]) -> bool:
    """An Allow of lambda:InvokeFunction (any case; wildcards are the IAM
    check's) on the resolver: by GetAtt, by a Ref or Sub that names it, or
    on every resource."""
    if statement.get("Effect") != "Allow":
        return False
    actions = {str(action).lower() for action in as_list(statement.get("Action", []))}
    if "lambda:invokefunction" not in actions:
        return False
    resources = as_list(statement.get("Resource", []))
    return any(
        resource == "*" or getatt_target(resource) == RESOLVER or RESOLVER in json.dumps(resource)
        for resource in resources
    )
