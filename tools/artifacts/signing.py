"""Tokens for the artifact test: ES256, from a P-256 key pair made fresh for
each run, so that no key that exists before or after the run is accepted.

The deployed template verifies RS256 or ES256 only (JwtJwksUrl or
JwtPublicKeyPem; HS256 is for the local stack). The test kit's `mint-token`
signs HS256 alone, and building it would be a second Rust build for this
test, so the tokens are signed here with `cryptography` (pinned in
requirements.txt): a JWS is small enough to write out, and the function
under test is what checks that it is right.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

# P-256's r and s, each as a fixed-width big-endian integer (RFC 7518, 3.4).
COORDINATE_BYTES = 32


def base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """For the template's JwtPublicKeyPem: SubjectPublicKeyInfo in PEM."""
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public.decode()


@dataclass(frozen=True)
class Signer:
    key: ec.EllipticCurvePrivateKey
    issuer: str
    audience: str

    def token(self, tenant: str, permissions: list[str], subject: str = "artifact-test", ttl_s: int = 600) -> str:
        """The claims the test kit's minter puts in a token (tokens.rs)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + ttl_s,
            "tenant": tenant,
            "permissions": permissions,
        }
        return self.sign({"alg": "ES256", "typ": "JWT"}, claims)

    def sign(self, header: dict[str, str], claims: dict[str, object]) -> str:
        signing_input = ".".join(base64url(json.dumps(part).encode()) for part in (header, claims))
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        # JWS carries r || s, not the DER that cryptography returns.
        r, s = decode_dss_signature(der)
        raw = r.to_bytes(COORDINATE_BYTES, "big") + s.to_bytes(COORDINATE_BYTES, "big")
        return f"{signing_input}.{base64url(raw)}"
