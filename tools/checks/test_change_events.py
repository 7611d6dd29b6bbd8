"""The change events' check catches each fault of the stream, the mapping,
the publish role and its alarms: one planted per test in a copy of
template.yaml."""

from __future__ import annotations

import copy
import json
import unittest
from collections.abc import Iterable
from typing import Any

from tools.checks import planted
from tools.checks.change_events import check_change_events

OPERATIONS = ["createSecret", "updateSecret", "deleteSecret", "restoreSecretVersion", "recoverDeletedSecret"]


def properties(sam: dict[str, Any], resource: str) -> dict[str, Any]:
    found: dict[str, Any] = sam["Resources"][resource]["Properties"]
    return found


def mapping(sam: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = properties(sam, "PublishChangesFunction")["Events"]["AuditStream"]["Properties"]
    return found


def pattern(sam: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(mapping(sam)["FilterCriteria"]["Filters"][0]["Pattern"])
    return found


def set_pattern(sam: dict[str, Any], value: dict[str, Any]) -> None:
    mapping(sam)["FilterCriteria"]["Filters"][0]["Pattern"] = json.dumps(value)


def role_statements(sam: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = properties(sam, "PublishChangesRole")["Policies"][0]["PolicyDocument"]["Statement"]
    return found


def role_statement(sam: dict[str, Any], action: str) -> dict[str, Any]:
    return next(entry for entry in role_statements(sam) if action in entry["Action"])


class PlantedFaults(planted.PlantedFaults):
    def violations(self, cfn: dict[str, Any]) -> Iterable[str]:
        return check_change_events(cfn)

    # --- the streams ----------------------------------------------------

    def test_an_audit_table_without_its_stream(self) -> None:
        def none(sam: dict[str, Any]) -> None:
            # The mapping needs a stream to read: it reads the secrets table's.
            del properties(sam, "AuditTable")["StreamSpecification"]
            properties(sam, "SecretsTable")["StreamSpecification"] = {"StreamViewType": "NEW_IMAGE"}
            mapping(sam)["Stream"] = {"Fn::GetAtt": ["SecretsTable", "StreamArn"]}

        def keys_only(sam: dict[str, Any]) -> None:
            properties(sam, "AuditTable")["StreamSpecification"]["StreamViewType"] = "KEYS_ONLY"

        for plant in (none, keys_only):
            self.assert_caught(plant, "AuditTable: needs a NEW_IMAGE stream (StreamSpecification)")

    def test_a_secrets_table_with_a_stream(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            properties(sam, "SecretsTable")["StreamSpecification"] = {"StreamViewType": "NEW_AND_OLD_IMAGES"}

        self.assert_caught(plant, "SecretsTable: must have no stream")

    # --- the mapping ----------------------------------------------------

    def test_a_mapping_on_the_secrets_tables_stream(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            properties(sam, "SecretsTable")["StreamSpecification"] = {"StreamViewType": "NEW_IMAGE"}
            mapping(sam)["Stream"] = {"Fn::GetAtt": ["SecretsTable", "StreamArn"]}

        self.assert_caught(plant, "PublishChangesFunctionAuditStream: must read the audit table's stream")

    def test_no_mapping_or_two(self) -> None:
        def none(sam: dict[str, Any]) -> None:
            del properties(sam, "PublishChangesFunction")["Events"]

        def two(sam: dict[str, Any]) -> None:
            events = properties(sam, "PublishChangesFunction")["Events"]
            events["Again"] = copy.deepcopy(events["AuditStream"])

        self.assert_caught(none, "PublishChangesFunction: needs exactly one event source mapping")
        self.assert_caught(two, "PublishChangesFunction: needs exactly one event source mapping")

    def test_a_mapping_starting_at_the_latest_record(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            mapping(sam)["StartingPosition"] = "LATEST"

        self.assert_caught(plant, "PublishChangesFunctionAuditStream: must start at TRIM_HORIZON")

    def test_a_mapping_without_batch_item_failures(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del mapping(sam)["FunctionResponseTypes"]

        self.assert_caught(plant, "PublishChangesFunctionAuditStream: must report batch item failures")

    def test_a_mapping_that_does_not_bisect(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            mapping(sam)["BisectBatchOnFunctionError"] = False

        self.assert_caught(plant, "PublishChangesFunctionAuditStream: must bisect a failed batch")

    def test_a_mapping_retrying_for_ever_or_by_count(self) -> None:
        def unset(sam: dict[str, Any]) -> None:
            del mapping(sam)["MaximumRecordAgeInSeconds"]

        def infinite(sam: dict[str, Any]) -> None:
            mapping(sam)["MaximumRecordAgeInSeconds"] = -1

        def the_streams_retention(sam: dict[str, Any]) -> None:
            mapping(sam)["MaximumRecordAgeInSeconds"] = 86400

        for plant in (unset, infinite, the_streams_retention):
            self.assert_caught(plant, "PublishChangesFunctionAuditStream: needs retries bounded by record age")

        def counted(sam: dict[str, Any]) -> None:
            mapping(sam)["MaximumRetryAttempts"] = 10

        self.assert_caught(counted, "PublishChangesFunctionAuditStream: must retry until the record age bound")

    def test_a_mapping_without_a_failure_queue(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del mapping(sam)["DestinationConfig"]

        self.assert_caught(plant, "PublishChangesFunctionAuditStream: needs an on-failure destination")

    def test_a_failure_queue_in_clear(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del properties(sam, "ChangeEventsFailedQueue")["SqsManagedSseEnabled"]

        self.assert_caught(plant, "ChangeEventsFailedQueue: must be encrypted")

    # --- the filter -----------------------------------------------------

    def test_a_filter_passing_more_than_the_inserts_of_allowed_changes(self) -> None:
        def modifies(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            value["eventName"] = ["INSERT", "MODIFY"]
            set_pattern(sam, value)

        def removes(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            value["eventName"] = ["INSERT", "REMOVE"]
            set_pattern(sam, value)

        def refusals(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            value["dynamodb"]["NewImage"]["outcome"]["S"] = ["allowed", "refused"]
            set_pattern(sam, value)

        def any_outcome(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            del value["dynamodb"]["NewImage"]["outcome"]
            set_pattern(sam, value)

        def resolves(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            value["dynamodb"]["NewImage"]["operation"]["S"] = [*OPERATIONS, "resolveSecret"]
            set_pattern(sam, value)

        def every_record(sam: dict[str, Any]) -> None:
            del mapping(sam)["FilterCriteria"]

        def or_everything(sam: dict[str, Any]) -> None:
            mapping(sam)["FilterCriteria"]["Filters"].append({"Pattern": json.dumps({"eventName": ["INSERT"]})})

        for plant in (modifies, removes, refusals, any_outcome, resolves, every_record, or_everything):
            with self.subTest(plant=plant.__name__):
                self.assert_caught(plant, "PublishChangesFunctionAuditStream: its one filter must keep exactly")

    def test_a_filter_dropping_a_change(self) -> None:
        def no_recoveries(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            value["dynamodb"]["NewImage"]["operation"]["S"] = OPERATIONS[:-1]
            set_pattern(sam, value)

        def misspelt(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            value["dynamodb"]["NewImage"]["operation"]["S"] = [*OPERATIONS[:-1], "recoverSecret"]
            set_pattern(sam, value)

        def old_images(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            value["dynamodb"] = {"OldImage": value["dynamodb"]["NewImage"]}
            set_pattern(sam, value)

        def not_json(sam: dict[str, Any]) -> None:
            mapping(sam)["FilterCriteria"]["Filters"][0]["Pattern"] = "eventName = INSERT"

        for plant in (no_recoveries, misspelt, old_images, not_json):
            with self.subTest(plant=plant.__name__):
                self.assert_caught(plant, "PublishChangesFunctionAuditStream: its one filter must keep exactly")

    def test_a_filter_passing_requests_that_changed_nothing(self) -> None:
        def image(sam: dict[str, Any]) -> tuple[dict[str, Any], Any]:
            value = pattern(sam)
            return value, value["dynamodb"]["NewImage"]

        def replays(sam: dict[str, Any]) -> None:
            value, new_image = image(sam)
            del new_image["replayed"]
            set_pattern(sam, value)

        def no_ops(sam: dict[str, Any]) -> None:
            value, new_image = image(sam)
            del new_image["unchanged"]
            set_pattern(sam, value)

        def neither(sam: dict[str, Any]) -> None:
            value, new_image = image(sam)
            del new_image["replayed"], new_image["unchanged"]
            set_pattern(sam, value)

        def on_the_name(sam: dict[str, Any]) -> None:
            # exists works on leaf nodes only: {"BOOL": true} is no leaf, so
            # exists false always matches it.
            value, new_image = image(sam)
            new_image["replayed"] = [{"exists": False}]
            set_pattern(sam, value)

        def another_type(sam: dict[str, Any]) -> None:
            value, new_image = image(sam)
            new_image["unchanged"] = {"S": [{"exists": False}]}
            set_pattern(sam, value)

        def false_only(sam: dict[str, Any]) -> None:
            value, new_image = image(sam)
            new_image["replayed"] = {"BOOL": [False]}
            set_pattern(sam, value)

        for plant in (replays, no_ops, neither, on_the_name, another_type, false_only):
            with self.subTest(plant=plant.__name__):
                found = self.caught(plant)
                self.assertTrue(found, "not caught")
                self.assertTrue(
                    all("PublishChangesFunctionAuditStream: its filter must leave out" in v for v in found), found
                )
        self.assertIn("it passes a createSecret flagged replayed", " ".join(self.caught(replays)))
        self.assertIn("it passes a updateSecret flagged unchanged", " ".join(self.caught(no_ops)))
        self.assertIn("it drops a deleteSecret that changed something", " ".join(self.caught(false_only)))

    def test_a_filter_dropping_every_change_with_its_flags(self) -> None:
        def present(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            value["dynamodb"]["NewImage"]["replayed"] = {"BOOL": [{"exists": True}]}
            set_pattern(sam, value)

        self.assert_caught(present, "it drops a createSecret that changed something")

    def test_a_filter_the_local_stack_cannot_play(self) -> None:
        def anything_but(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            value["dynamodb"]["NewImage"]["replayed"] = {"BOOL": [{"anything-but": [True]}]}
            set_pattern(sam, value)

        self.assert_caught(anything_but, "PublishChangesFunctionAuditStream: its filter must be one the local stack")

    def test_a_filter_naming_another_attribute(self) -> None:
        def tenant(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            value["dynamodb"]["NewImage"]["tenant"] = {"S": [{"exists": True}]}
            set_pattern(sam, value)

        self.assert_caught(tenant, "PublishChangesFunctionAuditStream: its one filter must keep exactly")

    def test_a_flag_written_false_must_pass(self) -> None:
        # What the function reads as not flagged: absent, or false. A filter
        # on absence alone would drop a change whose flag was written false.
        def absent_only(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            for flag in ("replayed", "unchanged"):
                value["dynamodb"]["NewImage"][flag] = {"BOOL": [{"exists": False}]}
            set_pattern(sam, value)

        self.assert_caught(absent_only, "it drops a createSecret with replayed written false")
        self.assert_caught(absent_only, "it drops a deleteSecret with unchanged written false")

    def test_the_filters_operations_in_another_order_pass(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            value = pattern(sam)
            value["dynamodb"]["NewImage"]["operation"]["S"] = list(reversed(OPERATIONS))
            set_pattern(sam, value)

        self.assertEqual(self.caught(plant), [])

    # --- the role -------------------------------------------------------

    def test_put_events_beyond_the_default_bus(self) -> None:
        def every_bus(sam: dict[str, Any]) -> None:
            role_statement(sam, "events:PutEvents")["Resource"] = {
                "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/*"
            }

        def another_bus(sam: dict[str, Any]) -> None:
            role_statement(sam, "events:PutEvents")["Resource"] = {
                "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/audit"
            }

        for plant in (every_bus, another_bus):
            self.assert_caught(plant, "PublishChangesRole: events:PutEvents alone, on the default bus alone")

    def test_put_events_for_any_source(self) -> None:
        def unconditioned(sam: dict[str, Any]) -> None:
            del role_statement(sam, "events:PutEvents")["Condition"]

        def another_source(sam: dict[str, Any]) -> None:
            role_statement(sam, "events:PutEvents")["Condition"]["StringEquals"]["events:source"] = "aws.kms"

        def a_pattern(sam: dict[str, Any]) -> None:
            role_statement(sam, "events:PutEvents")["Condition"] = {"StringLike": {"events:source": "*"}}

        for plant in (unconditioned, another_source, a_pattern):
            self.assert_caught(plant, "PublishChangesRole: events:PutEvents only for the source cortex.secrets")

    def test_a_publish_role_reading_a_table(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            role_statements(sam).append(
                {"Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": {"Fn::GetAtt": ["AuditTable", "Arn"]}}
            )

        self.assert_caught(plant, "PublishChangesRole: the publish role reads the audit table's stream, never a table")

    def test_a_publish_role_that_may_use_a_key(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            role_statements(sam).append(
                {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": {"Fn::GetAtt": ["SecretsKey", "Arn"]}}
            )

        self.assert_caught(plant, "PublishChangesRole: the publish role may use no key")

    def test_stream_reads_beyond_the_audit_tables_stream(self) -> None:
        def secrets_stream(sam: dict[str, Any]) -> None:
            role_statement(sam, "dynamodb:GetRecords")["Resource"] = {"Fn::GetAtt": ["SecretsTable", "StreamArn"]}

        def with_list_streams(sam: dict[str, Any]) -> None:
            role_statement(sam, "dynamodb:GetRecords")["Action"].append("dynamodb:ListStreams")

        for plant in (secrets_stream, with_list_streams):
            self.assert_caught(plant, "PublishChangesRole: the stream reads, all three alone, on the audit table's")

    def test_list_streams_with_more(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            role_statement(sam, "dynamodb:ListStreams")["Action"].append("dynamodb:DescribeTable")

        self.assert_caught(plant, 'PublishChangesRole: dynamodb:ListStreams alone, on "*"')

    def test_send_message_beyond_the_failure_queue(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            role_statement(sam, "sqs:SendMessage")["Resource"] = {
                "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:*"
            }

        self.assert_caught(plant, "PublishChangesRole: sqs:SendMessage alone, on its mapping's failure queue alone")

    def test_a_resource_permission_on_the_publish_function(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            sam["Resources"]["PublishFromAnywhere"] = {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Ref": "PublishChangesFunction.Alias"},
                    "Principal": "events.amazonaws.com",
                },
            }

        self.assert_caught(plant, "PublishFromAnywhere: lets someone invoke PublishChangesFunction")

    # --- the alarms -----------------------------------------------------

    def test_no_alarm_on_the_iterator_age(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["PublishChangesIteratorAgeAlarm"]
            properties(sam, "PublishChangesFunction")["DeploymentPreference"]["Alarms"] = [
                {"Ref": "PublishChangesErrorsAlarm"},
                {"Ref": "PublishChangesThrottlesAlarm"},
            ]

        self.assert_caught(plant, "PublishChangesFunction: needs an alarm on its IteratorAge")

    def test_no_alarm_on_the_failure_queue(self) -> None:
        def plant(sam: dict[str, Any]) -> None:
            del sam["Resources"]["ChangeEventsFailedAlarm"]

        self.assert_caught(plant, "ChangeEventsFailedQueue: needs an alarm on its ApproximateNumberOfMessagesVisible")


if __name__ == "__main__":
    unittest.main()
