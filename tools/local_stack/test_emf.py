"""The EMF check: the functions' records against the gateway shim's count of
the requests that reached them, on small logs made here. Run by `make test`."""

from __future__ import annotations

import json
import unittest
from typing import Any

from tools.local_stack import devstack, emf

# As devstack checks the local stack's records: its secrets table's name,
# template.yaml's functions and the manifest's leading_keys.
GRANTS = emf.load_grants(devstack.TABLE)

# What one request of each operation costs when all is well.
COSTS: dict[str, dict[str, Any]] = {
    "getSecret": {"DynamoDBCalls": 1, "KMSCalls": 0, "ReadCapacityUnits": 1.0, "WriteCapacityUnits": 0.0},
    # Its transaction met a conflict and was retried, as some do in the races.
    "createSecret": {
        "DynamoDBCalls": 2,
        "KMSCalls": 1,
        "ReadCapacityUnits": 0.0,
        "WriteCapacityUnits": 10.0,
        "TransactionConflicts": 1,
    },
}
FUNCTIONS = {
    "listAllSecrets": "list-secrets",
    "createSecret": "create-secret",
    "getSecret": "get-secret",
    "updateSecret": "update-secret",
    "deleteSecret": "delete-secret",
    "resolveSecret": "resolve-secret",
    "listSecretVersions": "get-secret",
    "restoreSecretVersion": "update-secret",
    "listDeletedSecrets": "list-secrets",
    "recoverDeletedSecret": "delete-secret",
    "resealValue": "reseal-secret",
}


def check(watch: list[str], gateway: list[str]) -> tuple[list[str], int, int]:
    return emf.check(watch, gateway, GRANTS)


# What a request of each function names on the secrets table by default:
# a partition its role is granted (none for the reseal function).
NAMED = {
    "list-secrets": {devstack.TABLE: {"dynamodb:Query": ["TENANT#"]}},
    "reseal-secret": {},
}
READ_ONE_SECRET = {devstack.TABLE: {"dynamodb:GetItem": ["SECRET#"]}}


def record(operation: str, status: int, **costs: Any) -> str:
    """A line as a function prints it: by default, of the function that
    serves `operation`, naming a partition of the secrets table it may."""
    function = FUNCTIONS[operation]
    fields = {
        "FunctionName": function,
        "LeadingKeys": NAMED.get(function, READ_ONE_SECRET),
        "DynamoDBCalls": 1,
        "KMSCalls": 0,
        "ReadCapacityUnits": 1.0,
        "WriteCapacityUnits": 0.0,
    }
    fields.update(COSTS.get(operation, {}))
    fields.update(costs)
    return json.dumps(
        {"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "Operation": operation, "Status": status, **fields}
    )


def request(
    operation: str | None,
    status: int | None,
    *,
    via: str = "router",
    error_type: str | None = None,
    delivered: bool = True,
) -> str:
    """A line as the gateway shim writes it."""
    return json.dumps(
        {
            "via": via,
            "method": "GET",
            "path": "/x",
            "function": FUNCTIONS.get(operation or ""),
            "operation": operation,
            "delivered": delivered,
            "status": status,
            "errorType": error_type,
            "elapsedMs": 3,
        }
    )


def one_of_each() -> tuple[list[str], list[str]]:
    """(watch log, gateway log) of a run where everything matches."""
    watch = ["   Compiling get-secret", "INFO request served"]
    gateway = [request(None, 404, via="gateway", delivered=False)]
    for operation in emf.OPERATIONS:
        watch.append(record(operation, 200))
        via = "invoke-api" if operation == "resolveSecret" else "router"
        gateway.append(request(operation, 200, via=via))
    watch.append(record("getSecret", 401, DynamoDBCalls=0, ReadCapacityUnits=0.0))
    gateway.append(request("getSecret", 401))
    watch.append(record("resolveSecret", 404))
    gateway.append(request("resolveSecret", 200, via="invoke-api", error_type="NOT_FOUND"))
    return watch, gateway


class Counts(unittest.TestCase):
    def test_matching_logs_pass(self) -> None:
        watch, gateway = one_of_each()
        problems, records, requests = check(watch, gateway)
        self.assertEqual(problems, [])
        self.assertEqual((records, requests), (12, 12))

    def test_records_of_functions_other_functions_invoke_are_not_gateway_requests(self) -> None:
        watch, gateway = one_of_each()
        watch.append(record("resealValue", 200, DynamoDBCalls=0, KMSCalls=2))
        problems, _, _ = check(watch, gateway)
        self.assertEqual(problems, [])

    def test_a_record_after_cargos_progress_on_its_line_still_counts(self) -> None:
        watch, gateway = one_of_each()
        line = record("getSecret", 200)
        watch.extend(["     Running" + line, " `target/debug/reseal-secret`"])
        gateway.append(request("getSecret", 200))
        problems, records, _ = check(watch, gateway)
        self.assertEqual(problems, [])
        self.assertEqual(records, 13)
        # Only a short prefix without JSON: a record inside another record's
        # line is still a problem.
        watch.append('{"message": "x", "nested": ' + line)
        problems, _, _ = check(watch, gateway)
        self.assertTrue(any("not a JSON EMF record" in problem for problem in problems), problems)

    def test_a_request_without_its_record_is_caught(self) -> None:
        watch, gateway = one_of_each()
        gateway.append(request("updateSecret", 502))  # the function died: no record
        problems, _, _ = check(watch, gateway)
        self.assertEqual(problems, ["updateSecret 5xx: 0 EMF record(s), 1 request(s) reached the function"])

    def test_a_record_without_its_request_is_caught(self) -> None:
        watch, gateway = one_of_each()
        watch.append(record("deleteSecret", 200))
        problems, _, _ = check(watch, gateway)
        self.assertEqual(problems, ["deleteSecret 2xx: 2 EMF record(s), 1 request(s) reached the function"])

    def test_a_record_of_another_outcome_is_caught_on_both_sides(self) -> None:
        watch, gateway = one_of_each()
        watch.append(record("listAllSecrets", 500))
        gateway.append(request("listAllSecrets", 200))
        problems, _, _ = check(watch, gateway)
        self.assertEqual(
            problems,
            [
                "listAllSecrets 2xx: 1 EMF record(s), 2 request(s) reached the function",
                "listAllSecrets 5xx: 1 EMF record(s), 0 request(s) reached the function",
            ],
        )

    def test_every_mismatch_is_listed(self) -> None:
        watch, gateway = one_of_each()
        gateway += [request("createSecret", 400), request("deleteSecret", 404), request("getSecret", 503)]
        problems, _, _ = check(watch, gateway)
        self.assertEqual(len(problems), 3, problems)
        self.assertEqual([p.split(":")[0] for p in problems], ["createSecret 4xx", "deleteSecret 4xx", "getSecret 5xx"])

    def test_requests_the_gateway_answered_or_never_delivered_are_not_expected(self) -> None:
        watch, gateway = one_of_each()
        gateway += [
            request(None, 405, via="gateway", delivered=False),
            request(None, 413, via="gateway", delivered=False),
            request("getSecret", None, delivered=False),  # the router refused the connection
            request(None, 404, via="gateway", delivered=False),  # refused by the IAM check
        ]
        problems, _, requests = check(watch, gateway)
        self.assertEqual(problems, [])
        self.assertEqual(requests, 12)

    def test_a_request_that_got_no_answer_is_caught(self) -> None:
        watch, gateway = one_of_each()
        gateway.append(request("getSecret", None))
        problems, _, _ = check(watch, gateway)
        self.assertEqual(problems, ["getSecret no answer: 0 EMF record(s), 1 request(s) reached the function"])

    def test_function_errors_count_by_the_class_their_type_stands_for(self) -> None:
        watch, gateway = one_of_each()
        watch += [record("resolveSecret", 400), record("resolveSecret", 503), record("resolveSecret", 500)]
        gateway += [
            request("resolveSecret", 200, via="invoke-api", error_type="BAD_REQUEST"),
            request("resolveSecret", 200, via="invoke-api", error_type="INTEGRATION_UNAVAILABLE"),
            request("resolveSecret", 500, via="invoke-api", error_type="UNHANDLED_EXCEPTION"),
        ]
        self.assertEqual(check(watch, gateway)[0], [])
        gateway.append(request("resolveSecret", 200, via="invoke-api", error_type="Runtime.ExitError"))
        self.assertEqual(
            check(watch, gateway)[0],
            ["resolveSecret function error Runtime.ExitError: 0 EMF record(s), 1 request(s) reached the function"],
        )

    def test_an_operation_never_reached_is_caught(self) -> None:
        watch, gateway = one_of_each()
        watch = [line for line in watch if '"resolveSecret"' not in line]
        gateway = [line for line in gateway if '"resolveSecret"' not in line]
        problems, _, _ = check(watch, gateway)
        self.assertEqual(problems, ["resolveSecret: no EMF record and no request at all"])

    def test_a_function_without_a_known_operation_is_caught(self) -> None:
        watch, gateway = one_of_each()
        gateway.append(json.dumps({"function": "rotate-secret", "operation": None, "delivered": True, "status": 200}))
        problems, _, _ = check(watch, gateway)
        self.assertEqual(len(problems), 1)
        self.assertIn("'rotate-secret', no known operation", problems[0])

    def test_unreadable_lines_are_caught(self) -> None:
        watch, gateway = one_of_each()
        watch.append('{"_aws": {"Timestamp": 1}, "Operation": "getSec')
        watch.append(json.dumps({"_aws": {}, "Operation": "getSecret"}))
        gateway.append("GET /api/v1/secrets 3ms")
        problems, _, _ = check(watch, gateway)
        self.assertEqual(len(problems), 3, problems)
        self.assertTrue(problems[0].startswith("watch log line 15: not a JSON EMF record"), problems)
        self.assertTrue(problems[1].startswith("watch log line 16: an EMF record without Operation and Status"))
        self.assertTrue(problems[2].startswith("gateway log line 14: not JSON"), problems)


class LeadingKeys(unittest.TestCase):
    """Each request's partitions on the secrets table against its function's
    grants (deploy/function-permissions.json, `leading_keys`)."""

    def test_grants_are_the_manifests_by_the_functions_binaries(self) -> None:
        self.assertEqual(GRANTS.table, "cortex-secrets")
        self.assertEqual(GRANTS.functions["get-secret"], "GetSecretFunction")
        self.assertEqual(GRANTS.functions["reseal-secret"], "ResealSecretFunction")
        self.assertEqual(len(GRANTS.functions), 8)
        self.assertIn("dynamodb:GetItem", GRANTS.leading_keys["GetSecretFunction"])

    def test_a_request_within_its_functions_grants_passes(self) -> None:
        watch, gateway = one_of_each()
        named = {
            devstack.TABLE: {"dynamodb:GetItem": sorted(p.rstrip("*") for p in granted("get-secret", "GetItem"))},
            # The audit table's keys are no partition of the secrets table's.
            devstack.AUDIT_TABLE: {"dynamodb:PutItem": ["TENANT#", "ANYTHING#"]},
        }
        watch.append(record("getSecret", 200, LeadingKeys=named))
        gateway.append(request("getSecret", 200))
        self.assertEqual(check(watch, gateway)[0], [])

    def test_a_partition_its_function_is_not_granted_is_caught(self) -> None:
        watch, gateway = one_of_each()
        # The list function may put page starts only; twice, reported once.
        named = {devstack.TABLE: {"dynamodb:PutItem": ["PAGES#", "SECRET#"], "dynamodb:Query": ["TENANT#"]}}
        for _ in range(2):
            watch.append(record("listAllSecrets", 200, LeadingKeys=named))
            gateway.append(request("listAllSecrets", 200))
        self.assertIn("PAGES#*", granted("list-secrets", "PutItem"))
        self.assertNotIn("SECRET#*", granted("list-secrets", "PutItem"))
        self.assertIn("TENANT#*", granted("list-secrets", "Query"))
        self.assertEqual(
            check(watch, gateway)[0],
            [
                "list-secrets (ListSecretsFunction), listAllSecrets: dynamodb:PutItem of SECRET#* on cortex-secrets, "
                "which leading_keys in deploy/function-permissions.json does not grant it (it grants "
                f"dynamodb:PutItem of {sorted(granted('list-secrets', 'PutItem'))}): 2 record(s)"
            ],
        )

    def test_an_action_its_function_is_not_granted_at_all_is_caught(self) -> None:
        watch, gateway = one_of_each()
        watch.append(record("getSecret", 200, LeadingKeys={devstack.TABLE: {"dynamodb:DeleteItem": ["SECRET#"]}}))
        gateway.append(request("getSecret", 200))
        problems = check(watch, gateway)[0]
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("get-secret (GetSecretFunction), getSecret: dynamodb:DeleteItem of SECRET#*", problems[0])
        self.assertIn("does not grant it on that table at all", problems[0])

    def test_a_function_without_leading_keys_naming_the_secrets_table_is_caught(self) -> None:
        watch, gateway = one_of_each()
        named = {devstack.TABLE: {"dynamodb:GetItem": ["SECRET#"]}}
        watch.append(record("resealValue", 200, DynamoDBCalls=0, KMSCalls=2, LeadingKeys=named))
        watch.append(record("getSecret", 200, FunctionName="rotate-secret", LeadingKeys=named))
        gateway.append(request("getSecret", 200))
        self.assertEqual(
            check(watch, gateway)[0],
            [
                "reseal-secret (ResealSecretFunction), resealValue: dynamodb:GetItem of SECRET#* on cortex-secrets, "
                "but deploy/function-permissions.json has no leading_keys for it: 1 record(s)",
                "rotate-secret (no function of template.yaml), getSecret: dynamodb:GetItem of SECRET#* on "
                "cortex-secrets, but deploy/function-permissions.json has no leading_keys for it: 1 record(s)",
            ],
        )

    def test_a_record_without_its_function_or_partitions_is_caught(self) -> None:
        watch, gateway = one_of_each()
        line = json.loads(record("getSecret", 200))
        del line["FunctionName"]
        watch.append(json.dumps(line))
        watch.append(record("getSecret", 200, LeadingKeys={devstack.TABLE: ["SECRET#"]}))
        gateway += [request("getSecret", 200), request("getSecret", 200)]
        self.assertEqual(
            check(watch, gateway)[0],
            ["EMF record(s) without a FunctionName or a well-formed LeadingKeys (the partitions named): 2 record(s)"],
        )

    def test_records_that_never_name_the_secrets_table_are_caught(self) -> None:
        # Partitions that went unrecorded would otherwise pass unchecked.
        watch, gateway = one_of_each()
        for at, line in enumerate(watch):
            if line.startswith("{"):
                watch[at] = json.dumps({**json.loads(line), "LeadingKeys": {}})
        self.assertEqual(
            check(watch, gateway)[0],
            [f"none of {len(emf.read_records(watch).entries)} EMF record(s) named a partition of cortex-secrets"],
        )


def granted(function: str, action: str) -> list[str]:
    """What the manifest grants the function `function` (a binary's name) for dynamodb:`action`."""
    return GRANTS.leading_keys[GRANTS.functions[function]].get(f"dynamodb:{action}", [])


class Costs(unittest.TestCase):
    def test_a_versions_list_that_read_a_value_is_caught(self) -> None:
        for costs in ({"DynamoDBCalls": 4}, {"KMSCalls": 1}, {"ReadCapacityUnits": 25.0}):
            watch, gateway = one_of_each()
            watch.append(record("listSecretVersions", 200, **costs))
            gateway.append(request("listSecretVersions", 200))
            problems, _, _ = check(watch, gateway)
            self.assertEqual(problems, ["a served versions list reads metadata only: at most 3 small reads"], costs)

    def test_a_get_that_read_twice_is_caught(self) -> None:
        watch, gateway = one_of_each()
        watch.append(record("getSecret", 200, DynamoDBCalls=2))
        gateway.append(request("getSecret", 200))
        self.assertEqual(check(watch, gateway)[0], ["a served get is one consistent read"])

    def test_a_create_without_its_data_key_is_caught(self) -> None:
        watch, gateway = one_of_each()
        watch.append(record("createSecret", 200, KMSCalls=0))
        gateway.append(request("createSecret", 200))
        self.assertEqual(check(watch, gateway)[0], ["a create is one data key and a four-item transaction"])

    def test_an_idempotent_create_beyond_its_bound_is_caught(self) -> None:
        watch, gateway = one_of_each()
        watch.append(record("createSecret", 200, DynamoDBCalls=6, KMSCalls=2))
        gateway.append(request("createSecret", 200))
        self.assertEqual(check(watch, gateway)[0], ["an idempotent create: at most a MAC, two reads and a write more"])

    def test_retried_transactions_are_not_counted_against_a_create(self) -> None:
        watch, gateway = one_of_each()
        watch.append(record("createSecret", 200, DynamoDBCalls=6, TransactionConflicts=5))
        gateway.append(request("createSecret", 200))
        self.assertEqual(check(watch, gateway)[0], [])
        watch.append(record("createSecret", 200, DynamoDBCalls=11, KMSCalls=2, TransactionConflicts=5))
        gateway.append(request("createSecret", 200))
        self.assertEqual(check(watch, gateway)[0], ["an idempotent create: at most a MAC, two reads and a write more"])

    def test_no_served_get_or_plain_create_is_caught(self) -> None:
        problems = emf.cost_problems([])
        self.assertEqual(
            problems,
            [
                "a served get is one consistent read",
                "a create is one data key and a four-item transaction",
                "no transaction met a conflict: the emulator did not isolate transactions",
            ],
        )

    def test_a_run_without_any_conflict_is_caught(self) -> None:
        watch, gateway = one_of_each()
        watch = [line for line in watch if '"createSecret"' not in line]
        watch.append(record("createSecret", 200, DynamoDBCalls=1, TransactionConflicts=0))
        self.assertEqual(
            check(watch, gateway)[0], ["no transaction met a conflict: the emulator did not isolate transactions"]
        )


if __name__ == "__main__":
    unittest.main()
