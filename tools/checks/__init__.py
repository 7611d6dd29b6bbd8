"""Checks `make test` runs: the deployment template's policies (template),
the OpenAPI document's build (openapi) and schemathesis runs against the
local stack (conformance)."""
