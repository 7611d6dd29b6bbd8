"""Builds our OpenAPI document: the upstream contract, unchanged, plus what
this implementation adds. Every addition is below, in one place.

    python -m tools.checks.openapi          write openapi/cortex-secrets.json
    python -m tools.checks.openapi --check  fail if the committed document is not what this builds

The numbers here are the service's limits; the Rust test
crates/secrets-lambda/tests/openapi.rs fails if they drift from the code.
"""

from __future__ import annotations

import copy
import json
import sys

from tools import ROOT

UPSTREAM = ROOT / "openapi" / "upstream" / "cortex-secrets-openapi.json"
OURS = ROOT / "openapi" / "cortex-secrets.json"

TAG = {
    "type": "string",
    "minLength": 1,
    "maxLength": 100,
    "pattern": "^[A-Za-z0-9_-]+$",
    "description": "Unique identifier for the secret: 1 to 100 of A-Z a-z 0-9 _ -, case-sensitive, "
    "never shaped like an id ('se' followed by 16 lowercase hex digits). Immutable.",
    "example": "my-secret",
}
# What crates/secrets-domain/src/text.rs refuses in a name, within the Basic
# Multilingual Plane (a pattern cannot name astral characters portably; the
# service also refuses the few astral format characters). Controls (Cc, line
# and paragraph separators) and invisible formatting characters anywhere;
# white space also at either end.
_HIDDEN = (
    "\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029"
    "\\u00ad\\u034f\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u115f\\u1160"
    "\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\u3164\\ufeff\\uffa0"
    "\\ufff9-\\ufffb"
)
_WHITE_SPACE = "\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000"
_MIDDLE = f"[^{_HIDDEN}]"
_END = f"[^{_HIDDEN}{_WHITE_SPACE}]"
NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": f"^{_END}({_MIDDLE}*{_END})?$",
    "description": "Human-readable name for the secret: 1 to 255 characters, kept exactly as sent; "
    "no white space at either end, no control characters and no invisible formatting characters "
    "(bidirectional overrides, zero-width characters, Unicode category Cf)",
    "example": "My Secret",
}
SECRET = {
    "type": "string",
    "minLength": 1,
    "maxLength": 65536,
    "description": "Value of the secret: 1 to 65536 bytes of UTF-8. Write-only: never returned.",
    "example": "my-secret-password",
    "writeOnly": True,
}
ID = {
    "type": "string",
    "pattern": "^se[0-9a-f]{16}$",
    "description": "Unique, immutable, 18-character auto-generated identifier for the secret",
    "example": "se2da8159dbeefb974",
}
PAGE = {"type": "integer", "format": "int32", "default": 0, "minimum": 0, "maximum": 2147483647}
PAGE_SIZE = {"type": "integer", "format": "int32", "default": 250, "minimum": 1, "maximum": 1000}

ERROR = {"$ref": "#/components/schemas/ErrorResponse"}
BEARER_CHALLENGE = {
    "description": 'RFC 6750 bearer challenge, e.g. `Bearer realm="cortex-secrets", error="invalid_token"`',
    "schema": {"type": "string"},
}
RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}}

RESPONSES = {
    "Unauthorized": {
        "description": "Missing or invalid bearer token (type UNCATEGORIZED: the contract's enum has no "
        "'unauthorized')",
        "headers": {"WWW-Authenticate": BEARER_CHALLENGE},
        "content": {"application/json": {"schema": ERROR}},
    },
    "Forbidden": {
        "description": "The token does not grant the required permission (type FORBIDDEN)",
        "headers": {"WWW-Authenticate": BEARER_CHALLENGE},
        "content": {"application/json": {"schema": ERROR}},
    },
    "Conflict": {
        "description": "The tenant already has a secret with this tag, or holds its maximum number of secrets "
        "(100000 by default) (type CONFLICT)",
        "content": {"application/json": {"schema": ERROR}},
    },
    "PayloadTooLarge": {
        "description": "The request body is larger than 400 KiB (type BAD_REQUEST)",
        "content": {"application/json": {"schema": ERROR}},
    },
    "InternalError": {
        "description": "A fault of the service (type UNHANDLED_EXCEPTION); the message says nothing more",
        "content": {"application/json": {"schema": ERROR}},
    },
    "Unavailable": {
        "description": "A dependency is briefly unavailable (type INTEGRATION_UNAVAILABLE)",
        "headers": {"Retry-After": RETRY_AFTER},
        "content": {"application/json": {"schema": ERROR}},
    },
}

RESPONSES["PreconditionFailed"] = {
    "description": "If-Match names no version the secret has now: another change landed since the client "
    "read it (type CONFLICT). Nothing was changed; read the secret again for its current ETag. A secret that "
    "does not exist is a 404, whatever If-Match says.",
    "content": {"application/json": {"schema": ERROR}},
}
RESPONSES["VersionIsCurrent"] = {
    "description": "The version named is the secret's current value: nothing to restore (type CONFLICT)",
    "content": {"application/json": {"schema": ERROR}},
}
RESPONSES["IdempotencyKeyReused"] = {
    "description": "This Idempotency-Key was already used, within the last 24 hours, for a create with a different "
    "tag, name or secret (type ILLEGAL_ARGUMENT_ERROR). Nothing was created.",
    "content": {"application/json": {"schema": ERROR}},
}

ETAG = {
    "description": 'Strong entity tag of the secret\'s current version, `"<id>.<version>"`; send it back in '
    "If-Match to update or delete only this version.",
    "schema": {"type": "string", "example": '"se2da8159dbeefb974.1"'},
}
IDEMPOTENT_REPLAYED = {
    "description": "`true` when this is the stored answer to an earlier create with the same Idempotency-Key and "
    "body, rather than a new secret.",
    "schema": {"type": "string", "enum": ["true"]},
}
PARAMETERS = {
    "IfMatch": {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "description": "Optional (RFC 9110): `*` or ETags from earlier answers. The change is made only if the "
        "secret is still at one of the named versions, else 412; weak tags never match; a value that is not `*` "
        "or a list of entity tags matches nothing (412, saying so). Without it, the update or delete is "
        "unconditional, as the upstream contract has it.",
        # What the service parses as entity tags (it also accepts the rarer
        # forms RFC 9110 allows: empty list elements, obs-text); anything
        # else matches no version.
        "schema": {"type": "string", "pattern": '^ *(\\*|(W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*) *$'},
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Optional: a unique key per intended create (a UUID, say), 1 to 255 printable ASCII "
        "characters. Retrying the create with the same key and the same tag, name and secret within 24 hours "
        "answers what the first request answered (with Idempotent-Replayed: true) instead of a 409; the same key "
        "with anything else is a 422. Only successful creates are remembered. Without it, every create is new.",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": "^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$",
        },
    },
}

# Statuses every operation can answer, and those only some can.
COMMON = {"401": "Unauthorized", "403": "Forbidden", "500": "InternalError", "503": "Unavailable"}
EXTRA = {
    ("post", "/api/v1/secrets"): {"409": "Conflict", "413": "PayloadTooLarge", "422": "IdempotencyKeyReused"},
    ("put", "/api/v1/secrets/{tagOrId}"): {"412": "PreconditionFailed", "413": "PayloadTooLarge"},
    ("delete", "/api/v1/secrets/{tagOrId}"): {"412": "PreconditionFailed"},
    ("post", "/api/v1/secrets/{tagOrId}/versions/{valueVersion}/restore"): {
        "409": "VersionIsCurrent",
        "412": "PreconditionFailed",
    },
    ("post", "/api/v1/deleted-secrets/{id}/restore"): {"409": "Conflict"},
}

# The optional headers of the safety features this implementation adds:
# request parameters, and headers of the 200 answer.
HEADERS_IN = {
    ("post", "/api/v1/secrets"): ["IdempotencyKey"],
    ("put", "/api/v1/secrets/{tagOrId}"): ["IfMatch"],
    ("delete", "/api/v1/secrets/{tagOrId}"): ["IfMatch"],
    ("post", "/api/v1/secrets/{tagOrId}/versions/{valueVersion}/restore"): ["IfMatch"],
}
HEADERS_OUT = {
    ("get", "/api/v1/secrets/{tagOrId}"): {"ETag": ETAG},
    ("get", "/api/v1/secrets/{tagOrId}/versions"): {"ETag": ETAG},
    ("post", "/api/v1/secrets"): {"ETag": ETAG, "Idempotent-Replayed": IDEMPOTENT_REPLAYED},
    ("put", "/api/v1/secrets/{tagOrId}"): {"ETag": ETAG},
    ("post", "/api/v1/secrets/{tagOrId}/versions/{valueVersion}/restore"): {"ETag": ETAG},
    ("post", "/api/v1/deleted-secrets/{id}/restore"): {"ETag": ETAG},
}


# Operations this implementation adds beside the contract's: each optional,
# on a path the contract does not use, so that a contract-only client never
# meets one.
VALUE_VERSION = {"type": "integer", "format": "int64", "minimum": 1}
EXTENSION_SCHEMAS = {
    "SecretVersion": {
        "type": "object",
        "description": "One kept value version of a secret: metadata only, never the value.",
        "required": ["valueVersion", "createdAt", "createdBy", "current"],
        "properties": {
            "valueVersion": VALUE_VERSION
            | {"description": "1 for the first value, one more for each new value (a rename makes none)"},
            "createdAt": {"type": "string", "format": "date-time", "description": "When it was written (UTC)"},
            "createdBy": {"type": "string", "description": "The token subject (`sub`) that wrote it"},
            "current": {"type": "boolean", "description": "Whether it is the value the secret has now"},
            "restoredFrom": VALUE_VERSION
            | {"description": "For a version written by a restore: the version whose value it carries again"},
        },
    },
    "DeletedSecret": {
        "type": "object",
        "description": "A deleted secret that can still be recovered: metadata only, never the value.",
        "required": ["id", "name", "tag", "deletedAt", "deletedBy", "purgeAt"],
        "properties": {
            "id": {"type": "string", "description": "Its id, which a recovery names"},
            "name": {"type": "string"},
            "tag": {"type": "string", "description": "The tag it comes back under, if still free"},
            "deletedAt": {"type": "string", "format": "date-time", "description": "When it was deleted (UTC)"},
            "deletedBy": {"type": "string", "description": "The token subject (`sub`) that deleted it"},
            "purgeAt": {
                "type": "string",
                "format": "date-time",
                "description": "When it is gone for good (UTC): the end of RECOVERY_WINDOW_DAYS (7 by default)",
            },
        },
    },
    "DeletedSecretsResponse": {
        "type": "object",
        "required": ["secrets", "next"],
        "properties": {
            "secrets": {
                "type": "array",
                "description": "Deleted secrets still recoverable, in id order",
                "items": {"$ref": "#/components/schemas/DeletedSecret"},
            },
            "next": {
                "type": "string",
                "nullable": True,
                "description": "The id the next page starts after (send it as `after`); null on the last page. "
                "A page may hold fewer than `pageSize`, even none, and still name a `next`: walk on until null.",
            },
        },
    },
    "SecretVersionsResponse": {
        "type": "object",
        "required": ["versions"],
        "properties": {
            "versions": {
                "type": "array",
                "description": "The kept versions, newest first: at most VALUE_VERSIONS_KEPT (10 by default); "
                "older ones are deleted with the value that makes them too old.",
                "items": {"$ref": "#/components/schemas/SecretVersion"},
            }
        },
    },
}


def extension_paths(upstream: dict) -> dict:
    """The added operations, with the contract's own parameter and 404 for a secret."""
    get_secret = upstream["paths"]["/api/v1/secrets/{tagOrId}"]["get"]
    list_secrets = upstream["paths"]["/api/v1/secrets"]["get"]
    return {
        "/api/v1/deleted-secrets": {
            "get": {
                "tags": list_secrets["tags"],
                "summary": "List deleted secrets that can still be recovered",
                "description": "An extension of this implementation. Needs the permission that listing secrets "
                "needs. The tenant's deleted secrets whose recovery window has not ended, in id order, a page "
                "at a time: each page names where the next starts (`next`, sent back as `after`). A page's "
                "reads are bounded, so while expired ones wait to be removed a page may come back short, even "
                "empty, with a `next`. No total: deleted secrets expire without a count to keep.",
                "operationId": "listDeletedSecrets",
                "parameters": [
                    {
                        "name": "after",
                        "in": "query",
                        "required": False,
                        "description": "The `next` of the previous page; omitted for the first",
                        "schema": copy.deepcopy(ID),
                    },
                    {
                        "name": "pageSize",
                        "in": "query",
                        "required": False,
                        "description": "How many per page",
                        "schema": {"type": "integer", "format": "int32", "default": 100, "minimum": 1, "maximum": 250},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "A page of deleted secrets",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/DeletedSecretsResponse"}}
                        },
                    },
                    "400": copy.deepcopy(list_secrets["responses"]["400"]),
                    "429": copy.deepcopy(list_secrets["responses"]["429"]),
                },
            }
        },
        "/api/v1/deleted-secrets/{id}/restore": {
            "post": {
                "tags": get_secret["tags"],
                "summary": "Recover a deleted secret",
                "description": "An extension of this implementation. Needs the permission that deleting a "
                "secret needs. Brings a deleted secret back under its tag, whole (every kept value version), "
                "at its next version. 404 once its recovery window has ended (or for a secret that is not "
                "deleted); 409 (CONFLICT) if its tag has been taken since, or the tenant is at its limit.",
                "operationId": "recoverDeletedSecret",
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "description": "The deleted secret's id",
                        "schema": copy.deepcopy(ID),
                    }
                ],
                "responses": {
                    "200": copy.deepcopy(get_secret["responses"]["200"])
                    | {"description": "Recovered: the secret is back under its tag"},
                    "404": copy.deepcopy(get_secret["responses"]["404"]),
                    "429": copy.deepcopy(get_secret["responses"]["429"]),
                },
            }
        },
        "/api/v1/secrets/{tagOrId}/versions": {
            "get": {
                "tags": get_secret["tags"],
                "summary": "List a secret's value versions",
                "description": "An extension of this implementation. Needs the permission that retrieving a "
                "secret needs. Metadata of each kept value version, newest first; never a value.",
                "operationId": "listSecretVersions",
                "parameters": copy.deepcopy(get_secret["parameters"]),
                "responses": {
                    "200": {
                        "description": "The secret's kept value versions",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/SecretVersionsResponse"}}
                        },
                    },
                    "404": copy.deepcopy(get_secret["responses"]["404"]),
                    "429": copy.deepcopy(get_secret["responses"]["429"]),
                },
            }
        },
        "/api/v1/secrets/{tagOrId}/versions/{valueVersion}/restore": {
            "post": {
                "tags": get_secret["tags"],
                "summary": "Restore a kept value version",
                "description": "An extension of this implementation. Needs the permission that updating a secret "
                "needs. Makes the value of kept version valueVersion current again as a new version (which "
                "records restoredFrom); the value is never returned. 409 (CONFLICT) for the current version, 404 "
                "for one the secret never had or no longer keeps.",
                "operationId": "restoreSecretVersion",
                "parameters": [
                    *copy.deepcopy(get_secret["parameters"]),
                    {
                        "name": "valueVersion",
                        "in": "path",
                        "required": True,
                        "description": "The kept version whose value becomes current again",
                        "schema": VALUE_VERSION,
                    },
                ],
                "responses": {
                    "200": copy.deepcopy(get_secret["responses"]["200"])
                    | {"description": "Restored: the earlier value is current again, as a new value version"},
                    "404": copy.deepcopy(get_secret["responses"]["404"]),
                    "429": copy.deepcopy(get_secret["responses"]["429"]),
                },
            }
        },
    }


def link(operation_id: str, field: str) -> dict:
    return {"operationId": operation_id, "parameters": {"tagOrId": f"$response.body#/{field}"}}


# How a created or updated secret can be addressed next, for clients and for
# schemathesis' stateful tests. By id only: a tag link would let a stateful
# run delete a secret by id and then expect it by tag.
LINKS = {
    ("post", "/api/v1/secrets"): {
        "GetSecretById": link("getSecret", "id"),
        "UpdateSecretById": link("updateSecret", "id"),
        "DeleteSecretById": link("deleteSecret", "id"),
    },
    ("put", "/api/v1/secrets/{tagOrId}"): {
        "GetSecretById": link("getSecret", "id"),
        "DeleteSecretById": link("deleteSecret", "id"),
        # After a new value, its first is kept and not current.
        "RestoreFirstVersionById": {
            "operationId": "restoreSecretVersion",
            "parameters": {"tagOrId": "$response.body#/id", "valueVersion": 1},
        },
    },
}


def build(upstream: dict) -> dict:
    doc = copy.deepcopy(upstream)
    doc["info"]["title"] = "Cortex API: Secrets (this implementation)"
    doc["info"]["description"] = (
        upstream["info"]["description"]
        + " This implementation adds what the upstream document leaves unsaid: the 401, 403, 409, 413, 500 "
        "and 503 responses it can give, the Retry-After and WWW-Authenticate headers, its validation limits "
        "as schema constraints, page and pageSize as optional with their defaults, and links between "
        "operations. It also adds two optional safety features, each inert for a client that does not use it: "
        "ETag and If-Match (412) for optimistic concurrency on update and delete, and Idempotency-Key (422) "
        "for safely retried creates. And operations of its own, on paths the contract does not use: a secret's "
        "value versions (GET /api/v1/secrets/{tagOrId}/versions) and their restore (POST "
        "/api/v1/secrets/{tagOrId}/versions/{valueVersion}/restore), and deleted secrets kept for a recovery "
        "window (GET /api/v1/deleted-secrets, POST /api/v1/deleted-secrets/{id}/restore). "
        "tools/checks/openapi.py lists every addition."
    )
    schemas = doc["components"]["schemas"]
    for request in ("CreateSecretRequest", "UpdateSecretRequest"):
        properties = schemas[request]["properties"]
        properties["name"] = copy.deepcopy(NAME)
        properties["secret"] = copy.deepcopy(SECRET)
        if "tag" in properties:
            properties["tag"] = copy.deepcopy(TAG)
    schemas["UpdateSecretRequest"]["description"] = (
        "Partial update: absent fields stay as they are; an empty object changes nothing. "
        "Unknown fields (a `tag`, say) are ignored."
    )
    response = schemas["SecretResponse"]
    response["required"] = ["id", "name", "tag"]
    response["properties"]["id"] = copy.deepcopy(ID)
    response["properties"]["tag"] = {k: v for k, v in TAG.items() if k != "description"} | {
        "description": "Unique identifier for the secret"
    }
    for field in ("page", "total", "totalPages"):
        schemas["AllSecretsResponse"]["properties"][field]["minimum"] = 0

    doc["paths"].update(extension_paths(upstream))
    schemas.update(copy.deepcopy(EXTENSION_SCHEMAS))
    doc["components"]["responses"].update(copy.deepcopy(RESPONSES))
    doc["components"].setdefault("parameters", {}).update(copy.deepcopy(PARAMETERS))
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status, name in {**COMMON, **EXTRA.get((method, path), {})}.items():
                responses[status] = {"$ref": f"#/components/responses/{name}"}
            if (method, path) in LINKS:
                responses["200"]["links"] = copy.deepcopy(LINKS[(method, path)])
            if (method, path) in HEADERS_OUT:
                responses["200"]["headers"] = copy.deepcopy(HEADERS_OUT[(method, path)])
            for name in HEADERS_IN.get((method, path), []):
                operation.setdefault("parameters", []).append({"$ref": f"#/components/parameters/{name}"})
            for parameter in operation.get("parameters", []):
                if path == "/api/v1/secrets" and parameter.get("name") in ("page", "pageSize"):
                    parameter["required"] = False
                    parameter["schema"] = copy.deepcopy(PAGE if parameter["name"] == "page" else PAGE_SIZE)
    return doc


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    built = render(build(json.loads(UPSTREAM.read_text())))
    if "--check" in sys.argv:
        if OURS.read_text() != built:
            print(f"{OURS.relative_to(ROOT)} is stale: run `python3 -m tools.checks.openapi`", file=sys.stderr)
            return 1
        print(f"{OURS.relative_to(ROOT)} is up to date")
        return 0
    OURS.write_text(built)
    print(f"wrote {OURS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
