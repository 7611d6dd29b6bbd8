"""Lambda events as API Gateway builds them, for the requests the gateway
shim invokes directly: an HTTP API (payload 2.0) event, as `cargo lambda
watch`'s router would build one, and a REST API (v1 proxy) event carrying
the IAM principal API Gateway verified, as the deployed resolve route
delivers it (`requestContext.identity.userArn`)."""

from __future__ import annotations

import base64
import time
import urllib.parse
import uuid
from typing import Any

from tools.local_stack.iam import LocalIam, Principal


def http_api_event(
    method: str, path: str, query: str, headers: dict[str, str], parameters: dict[str, str], body: bytes
) -> dict[str, Any]:
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "pathParameters": parameters,
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "domainName": "localhost",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


def rest_api_event(
    method: str,
    route: str,
    path: str,
    query: str,
    headers: dict[str, str],
    parameters: dict[str, str],
    body: bytes,
    iam: LocalIam,
    principal: Principal,
) -> dict[str, Any]:
    now = time.time()
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for name, value in pairs:
        multi_query.setdefault(name, []).append(value)
    return {
        "resource": route,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": dict(pairs) or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": iam.account,
            "apiId": iam.api_id,
            "stage": iam.stage,
            "resourceId": "local",
            "resourcePath": route,
            "httpMethod": method,
            "path": f"/{iam.stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "identity": {
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("User-Agent", ""),
                "accessKey": principal.access_key_id,
                "accountId": iam.account,
                "caller": principal.access_key_id,
                "user": principal.access_key_id,
                "userArn": principal.arn,
            },
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }
