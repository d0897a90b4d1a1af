"""Bounds a request meets before any parser sees it: JSON nesting depth, checked on the raw body.

json.loads and pydantic both recurse per nesting level, so a body of a few thousand brackets exhausts Python's
stack (a RecursionError, a 500). The scan here is iterative and costs a regex pass: string literals are cut out
(a bracket inside a string is not nesting), then the running depth of what is left is taken.
"""

from __future__ import annotations

import re
from itertools import accumulate

from aiqleads.errors import DomainError

MAX_JSON_DEPTH = 32

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class TooDeep(DomainError):
    status = 400
    code = "too_deeply_nested"


def json_depth(text: str) -> int:
    """The deepest nesting of objects and arrays in `text` (JSON or not: unbalanced text gives its deepest run)."""
    steps = map(_STEP.__getitem__, _BRACKET.findall(_STRING.sub("", text)))
    return max(accumulate(steps), default=0)


def check_depth(text: str | None) -> None:
    """Raise TooDeep (400, the body field named) when `text` nests deeper than MAX_JSON_DEPTH."""
    if not text or text.count("[") + text.count("{") <= MAX_JSON_DEPTH:  # the common case: nothing to measure
        return
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        message = f"the body nests {depth} levels of objects and arrays; at most {MAX_JSON_DEPTH} are allowed"
        raise TooDeep(message, [{"field": "body", "message": message}])
