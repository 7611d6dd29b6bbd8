"""Event patterns, as Lambda's event filtering (an event source mapping's
FilterCriteria) and EventBridge rules match them: the part the local stack
needs, for the change stream's filter (change_stream.py).

- A pattern is a JSON object. Each of its fields must match the event.
- A field whose value is an object matches an object in the event, field
  by field, recursively. Where the event has no object there (the field is
  absent, or a string, a number...), every field below it is absent. Where
  it has a list, the object must match one of the list's elements (fields
  are not matched across elements; an empty list is an absent field).
- A field whose value is a list matches if any of its entries does:
  - a string, number, boolean or null matches an event value equal to it
    (types never mix: "1" is not 1, true is not 1). An event value that
    is a list matches if any of its elements does.
  - `{"exists": true}` matches if the field is in the event with a leaf
    value (a string, number, boolean or null, or a list holding one);
    `{"exists": false}` matches if it is not: absent, under an absent
    parent (the path has no value at all), or an object, which is not a
    leaf. Exists only works on leaf nodes: in DynamoDB JSON an attribute's
    presence is tested on its type key, `{"replayed": {"BOOL": [{"exists":
    false}]}}`, never on `"replayed"` itself (docs.aws.amazon.com/lambda/
    latest/dg/with-ddb-filtering.html, "Using the Exists operator"; and
    github.com/aws/event-ruler, EventBridge's matcher, whose patterns
    Lambda's share: README "Exists matching", test testEmptyInput).
- Fields of the event the pattern does not name are ignored.

The other content filters (`prefix`, `anything-but`, `numeric` and the
rest: objects inside a pattern's list) are not supported: `check` refuses
them, so that a filter the local stack would misread is never applied.
"""

from __future__ import annotations

import json
from typing import Any


def parse(text: str) -> dict[str, Any]:
    """A pattern from its JSON text, as a FilterCriteria filter holds it."""
    pattern = json.loads(text)
    check(pattern)
    assert isinstance(pattern, dict)  # checked above
    return pattern


def check(pattern: Any, path: str = "") -> None:
    """Raises ValueError if `pattern` is not a pattern this module matches."""
    if not isinstance(pattern, dict):
        raise ValueError(f"pattern{path}: an object expected, got {json.dumps(pattern)}")
    for name, value in pattern.items():
        where = f"{path}.{name}"
        if isinstance(value, dict):
            check(value, where)
        elif isinstance(value, list) and value:
            for allowed in value:
                if isinstance(allowed, list) or (isinstance(allowed, dict) and not is_exists(allowed)):
                    raise ValueError(
                        f"pattern{where}: {json.dumps(allowed)} is a content filter, which the local stack "
                        "does not apply (tools/local_stack/event_pattern.py): only exact values and exists"
                    )
        else:
            raise ValueError(f"pattern{where}: a non-empty list or an object expected, got {json.dumps(value)}")


def is_exists(allowed: dict[str, Any]) -> bool:
    """`{"exists": true}` or `{"exists": false}`, and nothing else."""
    return set(allowed) == {"exists"} and isinstance(allowed["exists"], bool)


class _Absent:
    """Where the event has no value: a field it lacks, or one below it."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether `event` (a record, a JSON object) matches `pattern`."""
    return isinstance(event, dict) and matches_object(pattern, event)


def matches_object(pattern: dict[str, Any], value: Any) -> bool:
    if isinstance(value, list) and value:
        return any(matches_object(pattern, element) for element in value)
    fields = value if isinstance(value, dict) else {}
    for name, wanted in pattern.items():
        found = fields.get(name, ABSENT)
        if isinstance(wanted, dict):
            if not matches_object(wanted, found):
                return False
        elif not any(matches_leaf(allowed, found) for allowed in wanted):
            return False
    return True


def matches_leaf(allowed: Any, value: Any) -> bool:
    """One entry of a pattern's list, against the event's value there."""
    found = leaves(value)
    if isinstance(allowed, dict):  # {"exists": ...}: check() let no other object through
        exists: bool = allowed["exists"]
        return bool(found) == exists
    return any(same(allowed, leaf) for leaf in found)


def leaves(value: Any) -> list[Any]:
    """The leaf values at a field: none if it is absent or an object (its
    leaves are its own fields'), the value itself if it is a string, number,
    boolean or null, and those a list holds, nested lists flattened."""
    if value is ABSENT or isinstance(value, dict):
        return []
    if isinstance(value, list):
        return [leaf for element in value for leaf in leaves(element)]
    return [value]


def same(allowed: Any, value: Any) -> bool:
    """Equal and of the same JSON type (Python has True == 1)."""
    if isinstance(allowed, bool) or isinstance(value, bool):
        return isinstance(allowed, bool) and isinstance(value, bool) and allowed == value
    if isinstance(allowed, int | float) and isinstance(value, int | float):
        return allowed == value
    return type(allowed) is type(value) and bool(allowed == value)
