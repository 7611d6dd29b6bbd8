"""What API Gateway and IAM decide for an `AWS_IAM` route, played locally:
who signed a request (SigV4) and whether that principal's policy allows
`execute-api:Invoke` on the request's method ARN.

Principals are local and static: `.local/iam.json`, written by the dev
stack, gives each an access key, a secret key, an ARN and the resource ARNs
its policy allows (IAM wildcards `*` and `?`). The signature is recomputed
with botocore's SigV4 signer, the one every AWS SDK for Python signs with,
over the headers the request says it signed; requests more than 5 minutes
from the shim's clock are refused, as AWS refuses them.

Where this differs from AWS: no explicit denies, conditions, permission
boundaries, SCPs, session policies or resource policies; session tokens
are not checked (a temporary key is just a key here); and the answer to a
refused request is the gateway response AWS would pick (missing signature,
invalid signature, access denied), not its exact message in every case.
"""

from __future__ import annotations

import datetime
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SIGNING = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<headers>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
MAX_SKEW = datetime.timedelta(minutes=5)
SERVICE = "execute-api"


@dataclass(frozen=True)
class Principal:
    access_key_id: str
    secret_access_key: str
    arn: str
    allow: tuple[str, ...]

    def allows(self, resource: str) -> bool:
        return any(matches(pattern, resource) for pattern in self.allow)


@dataclass(frozen=True)
class Verdict:
    """`principal` when allowed; else the gateway response type and message."""

    principal: Principal | None
    response_type: str = ""
    message: str = ""


def matches(pattern: str, resource: str) -> bool:
    """IAM's resource matching: `*` any run of characters (`/` included),
    `?` any one; everything else literally."""
    expression = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(expression, resource, flags=re.DOTALL) is not None


@dataclass(frozen=True)
class LocalIam:
    account: str
    region: str
    api_id: str
    stage: str
    principals: dict[str, Principal]

    @classmethod
    def load(cls, path: Path) -> LocalIam:
        document = json.loads(path.read_text())
        principals = {
            p["accessKeyId"]: Principal(p["accessKeyId"], p["secretAccessKey"], p["arn"], tuple(p["allow"]))
            for p in document["principals"]
        }
        return cls(document["account"], document["region"], document["apiId"], document["stage"], principals)

    def method_arn(self, method: str, path: str) -> str:
        """The resource a policy names: `arn:aws:execute-api:region:account:api/stage/METHOD/path`."""
        return f"arn:aws:execute-api:{self.region}:{self.account}:{self.api_id}/{self.stage}/{method}{path}"

    def decide(self, method: str, url: str, headers: dict[str, str], body: bytes, now: datetime.datetime) -> Verdict:
        """`url` is the request target as sent (path and query)."""
        lower = {name.lower(): value for name, value in headers.items()}
        authorization = lower.get("authorization")
        if authorization is None:
            return Verdict(None, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        signing = SIGNING.match(authorization)
        if signing is None or signing["service"] != SERVICE or signing["region"] != self.region:
            return Verdict(None, "INVALID_SIGNATURE", "Authorization header requires a SigV4 signature for this API")
        principal = self.principals.get(signing["key"])
        if principal is None:
            return Verdict(None, "UNAUTHORIZED", "The security token included in the request is invalid")
        try:
            signed_at = datetime.datetime.strptime(lower.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.UTC
            )
        except ValueError:
            return Verdict(None, "INVALID_SIGNATURE", "X-Amz-Date is missing or malformed")
        if abs(now - signed_at) > MAX_SKEW or signed_at.strftime("%Y%m%d") != signing["date"]:
            return Verdict(None, "INVALID_SIGNATURE", "Signature expired or not yet valid")
        expected = self.signature(principal, method, url, lower, signing["headers"].split(";"), body, signed_at)
        if expected is None or not hmac.compare_digest(expected, signing["signature"]):
            return Verdict(
                None,
                "INVALID_SIGNATURE",
                "The request signature we calculated does not match the signature you provided",
            )
        path = url.partition("?")[0]
        resource = self.method_arn(method, path)
        if not principal.allows(resource):
            return Verdict(
                None,
                "ACCESS_DENIED",
                f"User: {principal.arn} is not authorized to perform: execute-api:Invoke on resource: {resource}",
            )
        return Verdict(principal)

    def signature(
        self,
        principal: Principal,
        method: str,
        url: str,
        headers: dict[str, str],
        signed: list[str],
        body: bytes,
        signed_at: datetime.datetime,
    ) -> str | None:
        """The signature `principal` would have made of what the request
        says it signed; None when a header it names is absent."""
        if "host" not in signed or any(name not in headers for name in signed):
            return None
        request = AWSRequest(
            method=method, url=f"http://{headers['host']}{url}", data=body, headers={n: headers[n] for n in signed}
        )
        request.context["timestamp"] = signed_at.strftime("%Y%m%dT%H%M%SZ")
        signer = SigV4Auth(Credentials(principal.access_key_id, principal.secret_access_key), SERVICE, self.region)
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        signature: str = signer.signature(string_to_sign, request)
        return signature


def sign(
    method: str, url: str, access_key_id: str, secret_access_key: str, region: str, at: datetime.datetime
) -> dict[str, str]:
    """The headers an AWS SDK sends for `method url` signed at `at` (the
    signer's own steps, so that the time is the caller's to choose)."""
    host = url.split("://", 1)[1].split("/", 1)[0]
    request = AWSRequest(method=method, url=url, headers={"Host": host})
    signer = SigV4Auth(Credentials(access_key_id, secret_access_key), SERVICE, region)
    request.context["timestamp"] = at.strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = request.context["timestamp"]
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    scope = f"{access_key_id}/{at.strftime('%Y%m%d')}/{region}/{SERVICE}/aws4_request"
    signed_headers = signer.signed_headers(signer.headers_to_sign(request))
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
    return dict(request.headers.items())
