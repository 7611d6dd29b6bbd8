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
                            "restoreSecretVersion", "recoverDeletedSecret"]},
        "replayed": {"BOOL": [{"exists": false}]},
        "unchanged": {"BOOL": [{"exists": false}]}}}}"""
)


def audit_record(event_name: str = "INSERT", **image: dict[str, object]) -> dict[str, object]:
    new_image = {"outcome": {"S": "allowed"}, "operation": {"S": "createSecret"}, **image}
    return {"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": {"NewImage": new_image}}


class Matching(unittest.TestCase):
    def test_the_change_filter_takes_allowed_changes_only(self) -> None:
        self.assertTrue(event_pattern.matches(CHANGES, audit_record()))
        self.assertTrue(event_pattern.matches(CHANGES, audit_record(operation={"S": "recoverDeletedSecret"})))
        self.assertTrue(
            event_pattern.matches(CHANGES, audit_record(tenant={"S": "acme"}, batchItem={"N": "3"})),
            "fields the pattern does not name are ignored",
        )
        self.assertFalse(event_pattern.matches(CHANGES, audit_record(replayed={"BOOL": True})), "a replayed create")
        self.assertFalse(
            event_pattern.matches(CHANGES, audit_record(operation={"S": "updateSecret"}, unchanged={"BOOL": True})),
            "an update that changed nothing",
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


class Exists(unittest.TestCase):
    """As docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html
    ("Using the Exists operator") and github.com/aws/event-ruler (README,
    "Exists matching"; its tests) have them."""

    ABSENT = event_pattern.parse('{"a": {"b": [{"exists": false}]}}')
    PRESENT = event_pattern.parse('{"a": {"b": [{"exists": true}]}}')

    def both(self, event: dict[str, object]) -> tuple[bool, bool]:
        return event_pattern.matches(self.ABSENT, event), event_pattern.matches(self.PRESENT, event)

    def test_a_leaf_present(self) -> None:
        for value in ("x", "", 0, False, True, None, ["x"], [1, [2]]):
            with self.subTest(value=value):
                self.assertEqual(self.both({"a": {"b": value}}), (False, True))

    def test_a_leaf_absent(self) -> None:
        self.assertEqual(self.both({"a": {"c": "x"}}), (True, False))
        self.assertEqual(self.both({"a": {}}), (True, False))
        self.assertEqual(self.both({"a": {"b": []}}), (True, False), "an empty list holds no leaf")

    def test_under_an_absent_parent_the_leaf_is_absent(self) -> None:
        self.assertEqual(self.both({}), (True, False), "event-ruler's testEmptyInput")
        self.assertEqual(self.both({"c": {"b": "x"}}), (True, False))
        self.assertEqual(self.both({"a": "x"}), (True, False), "a leaf at a, none at a.b")
        self.assertEqual(self.both({"a": None}), (True, False))
        self.assertFalse(event_pattern.matches(self.ABSENT, ["x"]), "a record is an object")

    def test_exists_only_works_on_leaf_nodes(self) -> None:
        # An object is no leaf: exists true never matches it, exists false always does.
        self.assertEqual(self.both({"a": {"b": {"BOOL": True}}}), (True, False))
        naive = event_pattern.parse('{"dynamodb": {"NewImage": {"replayed": [{"exists": false}]}}}')
        self.assertTrue(event_pattern.matches(naive, {"dynamodb": {"NewImage": {"replayed": {"BOOL": True}}}}))
        leaf = event_pattern.parse('{"dynamodb": {"NewImage": {"replayed": {"BOOL": [{"exists": false}]}}}}')
        self.assertFalse(event_pattern.matches(leaf, {"dynamodb": {"NewImage": {"replayed": {"BOOL": True}}}}))
        self.assertTrue(event_pattern.matches(leaf, {"dynamodb": {"NewImage": {"outcome": {"S": "allowed"}}}}))
        self.assertFalse(event_pattern.matches(leaf, {"dynamodb": {"NewImage": {"replayed": {"BOOL": False}}}}))
        self.assertTrue(event_pattern.matches(leaf, {"dynamodb": {"NewImage": {"replayed": {"S": "x"}}}}))

    def test_the_guides_list_example(self) -> None:
        item = {"Organizations": {"L": [{"S": "Sales"}, {"S": "Marketing"}]}}
        record = {"dynamodb": {"NewImage": item}}
        never = event_pattern.parse('{"dynamodb": {"NewImage": {"Organizations": [{"exists": true}]}}}')
        self.assertFalse(event_pattern.matches(never, record))
        proper = event_pattern.parse('{"dynamodb": {"NewImage": {"Organizations": {"L": {"S": [{"exists": true}]}}}}}')
        self.assertTrue(event_pattern.matches(proper, record))
        self.assertFalse(event_pattern.matches(proper, {"dynamodb": {"NewImage": {"Organizations": {"L": []}}}}))

    def test_an_object_in_a_list_is_matched_within_one_element(self) -> None:
        # event-ruler's testACWithExistFalseRule: one element holding the
        # wanted value and lacking the field is enough.
        pattern = event_pattern.parse('{"a": {"state": ["on"], "b": [{"exists": false}]}}')
        self.assertTrue(event_pattern.matches(pattern, {"a": [{"state": "on"}, {"state": "off", "b": 1}]}))
        self.assertFalse(event_pattern.matches(pattern, {"a": [{"state": "on", "b": 1}, {"state": "off"}]}))

    def test_exists_among_values_is_one_more_alternative(self) -> None:
        pattern = event_pattern.parse('{"a": ["x", {"exists": false}]}')
        self.assertTrue(event_pattern.matches(pattern, {"a": "x"}))
        self.assertTrue(event_pattern.matches(pattern, {}))
        self.assertFalse(event_pattern.matches(pattern, {"a": "y"}))

    def test_exists_and_exact_values_together(self) -> None:
        pattern = event_pattern.parse('{"a": ["x"], "b": [{"exists": false}], "c": [{"exists": true}]}')
        self.assertTrue(event_pattern.matches(pattern, {"a": "x", "c": 0}))
        self.assertFalse(event_pattern.matches(pattern, {"a": "x", "b": 0, "c": 0}))
        self.assertFalse(event_pattern.matches(pattern, {"a": "x"}))
        self.assertFalse(event_pattern.matches(pattern, {"a": "y", "c": 0}))


class Checking(unittest.TestCase):
    def test_exists_is_taken(self) -> None:
        for text in ('{"a": {"b": [{"exists": false}]}}', '{"a": [{"exists": true}, "x"]}'):
            with self.subTest(text):
                event_pattern.parse(text)

    def test_what_it_cannot_match_is_refused(self) -> None:
        for text in (
            '{"a": [{"prefix": "x"}]}',
            '{"a": [{"anything-but": [true]}]}',
            '{"a": [{"exists": "false"}]}',
            '{"a": [{"exists": 0}]}',
            '{"a": [{"exists": false, "prefix": "x"}]}',
            '{"a": [["x"]]}',
            '{"a": "x"}',
            '{"a": []}',
            '["a"]',
        ):
            with self.subTest(text), self.assertRaises(ValueError):
                event_pattern.parse(text)


if __name__ == "__main__":
    unittest.main()
