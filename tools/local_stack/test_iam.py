"""The local IAM check: signatures made by an AWS SDK's signer pass, every
change to a signed request fails, and policies scope callers to tenants."""

from __future__ import annotations

import datetime
import json
import tempfile
import unittest
from pathlib import Path

from tools.local_stack.iam import LocalIam, matches, sign

PREFIX = "arn:aws:execute-api:us-east-1:000000000000:local/live/GET/internal/v1/tenants"
ACME = ("AKIDACME", "acme-secret", "arn:aws:iam::000000000000:role/acme-consumer", [f"{PREFIX}/acme/*"])
EVERYONE = ("AKIDALL", "all-secret", "arn:aws:iam::000000000000:role/platform", [f"{PREFIX}/*"])
HOST = "127.0.0.1:9000"


def local_iam() -> LocalIam:
    document = {
        "account": "000000000000",
        "region": "us-east-1",
        "apiId": "local",
        "stage": "live",
        "principals": [
            {"accessKeyId": key, "secretAccessKey": secret, "arn": arn, "allow": allow}
            for key, secret, arn, allow in (ACME, EVERYONE)
        ],
    }
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "iam.json"
        path.write_text(json.dumps(document))
        return LocalIam.load(path)


def signed(key: str, secret: str, path: str, at: datetime.datetime, region: str = "us-east-1") -> dict[str, str]:
    """The headers botocore's SigV4 signer (as any AWS SDK) sends."""
    return sign("GET", f"http://{HOST}{path}", key, secret, region, at)


NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.UTC)
ACME_DB = "/internal/v1/tenants/acme/secrets/db"


class LocalIamTest(unittest.TestCase):
    def setUp(self) -> None:
        self.iam = local_iam()

    def decide(self, path: str, headers: dict[str, str], now: datetime.datetime = NOW) -> tuple[str, str]:
        verdict = self.iam.decide("GET", path, headers, b"", now)
        return (verdict.principal.arn if verdict.principal else "", verdict.response_type)

    def test_a_principal_reaches_the_tenants_its_policy_names(self) -> None:
        self.assertEqual(self.decide(ACME_DB, signed(*ACME[:2], ACME_DB, NOW)), (ACME[2], ""))
        for tenant in ("acme", "globex", "acme-corp"):
            path = f"/internal/v1/tenants/{tenant}/secrets/db"
            self.assertEqual(self.decide(path, signed(*EVERYONE[:2], path, NOW)), (EVERYONE[2], ""))

    def test_a_principal_scoped_to_one_tenant_is_denied_the_others(self) -> None:
        for tenant in ("globex", "acme-corp", "acmex"):
            path = f"/internal/v1/tenants/{tenant}/secrets/db"
            self.assertEqual(self.decide(path, signed(*ACME[:2], path, NOW)), ("", "ACCESS_DENIED"), tenant)

    def test_anything_changed_after_signing_fails(self) -> None:
        headers = signed(*ACME[:2], ACME_DB, NOW)
        self.assertEqual(self.decide("/internal/v1/tenants/acme/secrets/other", headers), ("", "INVALID_SIGNATURE"))
        self.assertEqual(self.decide(ACME_DB + "?x=1", headers), ("", "INVALID_SIGNATURE"))
        forged = dict(headers, Authorization=headers["Authorization"].replace("AKIDACME", "AKIDALL"))
        self.assertEqual(self.decide(ACME_DB, forged), ("", "INVALID_SIGNATURE"))
        wrong_secret = signed("AKIDACME", "guessed", ACME_DB, NOW)
        self.assertEqual(self.decide(ACME_DB, wrong_secret), ("", "INVALID_SIGNATURE"))
        other_host = dict(headers, Host="attacker.test")
        self.assertEqual(self.decide(ACME_DB, other_host), ("", "INVALID_SIGNATURE"))

    def test_unsigned_unknown_stale_and_foreign_signatures_are_refused(self) -> None:
        self.assertEqual(self.decide(ACME_DB, {"Host": HOST}), ("", "MISSING_AUTHENTICATION_TOKEN"))
        self.assertEqual(self.decide(ACME_DB, signed("AKIDNOBODY", "x", ACME_DB, NOW)), ("", "UNAUTHORIZED"))
        stale = signed(*ACME[:2], ACME_DB, NOW - datetime.timedelta(minutes=6))
        self.assertEqual(self.decide(ACME_DB, stale), ("", "INVALID_SIGNATURE"))
        other_region = signed(*ACME[:2], ACME_DB, NOW, region="eu-west-1")
        self.assertEqual(self.decide(ACME_DB, other_region), ("", "INVALID_SIGNATURE"))
        bearer = {"Host": HOST, "Authorization": "Bearer eyJ..."}
        self.assertEqual(self.decide(ACME_DB, bearer), ("", "INVALID_SIGNATURE"))

    def test_resource_patterns_follow_iam_wildcards(self) -> None:
        self.assertTrue(matches("a/*/c", "a/b/x/c"))
        self.assertTrue(matches("a/?/c", "a/b/c"))
        self.assertFalse(matches("a/?/c", "a/bb/c"))
        self.assertFalse(matches("tenants/acme/*", "tenants/acme-corp/secrets/db"))
        self.assertFalse(matches("a.c", "abc"))


if __name__ == "__main__":
    unittest.main()
