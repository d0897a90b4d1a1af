"""pydantic's errors as every interface reports them: [{"field": "property.price", "message": ...}].

The REST envelope, GraphQL extensions, batch items and flat-file rows all name a field this way; only how a
location becomes a field name differs (dotted for the wire format, the column for flat rows).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

Location = tuple[int | str, ...]


def dotted(location: Location) -> str:
    return ".".join(str(part) for part in location) or "body"


def field_errors(
    error: ValidationError | Sequence[Mapping[str, Any]],
    prefix: Location = (),
    name: Callable[[Location], str] = dotted,
) -> list[dict[str, str]]:
    """Each error as {field, message}; `prefix` goes before every location (e.g. the GraphQL argument)."""
    items = error.errors(include_url=False) if isinstance(error, ValidationError) else error
    return [
        {
            "field": name((*prefix, *item.get("loc", ()))),
            "message": str(item.get("msg", "")).removeprefix("Value error, "),
        }
        for item in items
    ]


def summary(details: Sequence[Mapping[str, str]], limit: int | None = None) -> str:
    """One line naming each (or the first `limit`) field error, for the message beside the details."""
    return "; ".join(f"{d['field']}: {d['message']}" for d in details[:limit])
