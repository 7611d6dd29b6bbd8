"""Event patterns, as Lambda's event filtering (an event source mapping's
FilterCriteria) and EventBridge rules match them: the part the local stack
needs, for the change stream's filter (change_stream.py).

- A pattern is a JSON object. Each of its fields must be in the event.
- A field whose value is an object matches an object in the event, field
  by field, recursively.
- A field whose value is a list matches an event value equal to one of the
  list's values (strings, numbers, booleans, null; types never mix: "1" is
  not 1, true is not 1). An event value that is a list matches if any of
  its elements does.
- Fields of the event the pattern does not name are ignored.

Content filters (`prefix`, `anything-but`, `numeric`, `exists` and the
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
                if isinstance(allowed, dict | list):
                    raise ValueError(
                        f"pattern{where}: {json.dumps(allowed)} is a content filter, which the local stack "
                        "does not apply (tools/local_stack/event_pattern.py): only exact values"
                    )
        else:
            raise ValueError(f"pattern{where}: a non-empty list or an object expected, got {json.dumps(value)}")


def matches(pattern: dict[str, Any], event: Any) -> bool:
    if not isinstance(event, dict):
        return False
    for name, wanted in pattern.items():
        if name not in event:
            return False
        value = event[name]
        if isinstance(wanted, dict):
            if not matches(wanted, value):
                return False
        elif not any(same(allowed, element) for allowed in wanted for element in elements(value)):
            return False
    return True


def elements(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def same(allowed: Any, value: Any) -> bool:
    """Equal and of the same JSON type (Python has True == 1)."""
    if isinstance(allowed, bool) or isinstance(value, bool):
        return isinstance(allowed, bool) and isinstance(value, bool) and allowed == value
    if isinstance(allowed, int | float) and isinstance(value, int | float):
        return allowed == value
    return type(allowed) is type(value) and bool(allowed == value)
