"""A lead's score history: what a writer of a score says about it (`HistoryStamp`); the items themselves are
`storage.leads.history_item`, the trend over them `leads/trend.py`."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from aiqleads.errors import DomainError
from aiqleads.models import ScoreCause


@dataclass(frozen=True, slots=True)
class HistoryStamp:
    """When and why a score is written, and what makes its history item's key idempotent: the event id (events),
    the job id (bulk, rescoring), or nothing (API ingest: the score's content decides)."""

    at: datetime
    cause: ScoreCause
    key: str = ""


HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 500
_CURSOR_VERSION = 1


class InvalidHistoryCursor(DomainError):
    """A history cursor this API did not issue, or one of another lead (400, the code every cursor uses)."""

    status = 400
    code = "invalid_cursor"


def encode_cursor(lead_id: str, sk: str) -> str:
    """An opaque cursor: the last entry served (its sort key) and the lead it belongs to."""
    body = json.dumps({"v": _CURSOR_VERSION, "l": lead_id, "k": sk}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, lead_id: str, field: str = "cursor") -> str:
    """The sort key to resume after; InvalidHistoryCursor for anything but a cursor of this lead's history."""
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidHistoryCursor("the cursor is not one this API issued", {"field": field}) from None
    if not isinstance(body, dict) or body.get("v") != _CURSOR_VERSION or not isinstance(body.get("k"), str):
        raise InvalidHistoryCursor("the cursor is not one this API issued", {"field": field})
    if body.get("l") != lead_id or not body["k"].startswith("history#"):
        raise InvalidHistoryCursor("the cursor belongs to another lead's history", {"field": field})
    return str(body["k"])
