"""Event patterns matched as Lambda's event filtering matches them, on the
change stream's own filter among others. Run by `make test`."""

from __future__ import annotations

import unittest

from tools.local_stack import event_pattern

# The FilterCriteria pattern of the spec (template.yaml, PublishChangesFunction).
CHANGES = event_pattern.parse(
    """{"eventName": ["INSERT"], "dynamodb": {"NewImage": {
        "outcome": {"S": ["allowed"]},
        "operation": {"S": ["createSecret", "updateSecret", "deleteSecret",
                            "restoreSecretVersion", "recoverDeletedSecret"]}}}}"""
)


def audit_record(event_name: str = "INSERT", **image: dict[str, object]) -> dict[str, object]:
    new_image = {"outcome": {"S": "allowed"}, "operation": {"S": "createSecret"}, **image}
    return {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": {"NewImage": new_image}}


class Matching(unittest.TestCase):
    def test_the_change_filter_takes_allowed_changes_only(self) -> None:
        self.assertTrue(event_pattern.matches(CHANGES, audit_record()))
        self.assertTrue(event_pattern.matches(CHANGES, audit_record(operation={"S": "recoverDeletedSecret"})))
        self.assertTrue(
            event_pattern.matches(CHANGES, audit_record(replayed={"BOOL": True})),
            "fields the pattern does not name are ignored (the function drops replays itself)",
        )
        self.assertFalse(event_pattern.matches(CHANGES, audit_record(outcome={"S": "refused"})))
        self.assertFalse(event_pattern.matches(CHANGES, audit_record(operation={"S": "resolveSecret"})))
        self.assertFalse(event_pattern.matches(CHANGES, audit_record("MODIFY")))
        removed = {"eventName": "REMOVE", "dynamodb": {"Keys": {"pk": {"S": "p"}}}}
        self.assertFalse(event_pattern.matches(CHANGES, removed), "a TTL removal has no NewImage")
        self.assertFalse(
            event_pattern.matches(CHANGES, audit_record(operation={"N": "1"})), "another attribute type: no match"
        )

    def test_values_match_by_json_type(self) -> None:
        self.assertTrue(event_pattern.matches({"a": [1]}, {"a": 1.0}))
        self.assertFalse(event_pattern.matches({"a": [1]}, {"a": "1"}))
        self.assertFalse(event_pattern.matches({"a": [1]}, {"a": True}))
        self.assertFalse(event_pattern.matches({"a": [True]}, {"a": 1}))
        self.assertTrue(event_pattern.matches({"a": [None]}, {"a": None}))
        self.assertFalse(event_pattern.matches({"a": [None]}, {}), "null matches a present null only")

    def test_a_list_in_the_event_matches_if_any_element_does(self) -> None:
        self.assertTrue(event_pattern.matches({"a": ["x", "y"]}, {"a": ["z", "y"]}))
        self.assertFalse(event_pattern.matches({"a": ["x"]}, {"a": ["z"]}))

    def test_objects_match_objects_only(self) -> None:
        self.assertFalse(event_pattern.matches({"a": {"b": ["x"]}}, {"a": "x"}))
        self.assertFalse(event_pattern.matches({"a": ["x"]}, {"a": {"b": "x"}}))
        self.assertFalse(event_pattern.matches({"a": ["x"]}, ["x"]))


class Checking(unittest.TestCase):
    def test_what_it_cannot_match_is_refused(self) -> None:
        for text in (
            '{"a": [{"prefix": "x"}]}',
            '{"a": {"b": [{"exists": false}]}}',
            '{"a": "x"}',
            '{"a": []}',
            '["a"]',
        ):
            with self.subTest(text), self.assertRaises(ValueError):
                event_pattern.parse(text)


if __name__ == "__main__":
    unittest.main()
