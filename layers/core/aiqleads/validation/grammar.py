"""The text grammar shared by the per-record and the columnar validators.

Both paths compile the same patterns (Python `re` and Arrow's RE2 agree on this ASCII-only subset), so a value
is accepted by one exactly when it is accepted by the other. Phone numbers are normalised to E.164 with the
North American Numbering Plan as the home region: the marketplace's launch markets are all in the US.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

NUMBER_PATTERN = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
EMAIL_PATTERN = r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$"
PHONE_SEPARATORS = (" ", "(", ")", ".", "-")
# US/Canada: optional +1 or 1, area code and exchange starting 2-9. Elsewhere: + and 8 to 15 digits.
NANP_PATTERN = r"^(\+?1)?[2-9][0-9]{2}[2-9][0-9]{6}$"
INTERNATIONAL_PATTERN = r"^\+[2-9][0-9]{7,14}$"
SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
# Every id a client chooses (a lead's, a buyer's): ASCII letters and digits, then also . _ : -, at most 128. No '#'
# (the tables' key separator), '/', '%', spaces or non-ASCII: each such id reads back through a URL path unchanged.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
DATETIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?(Z|[+-][0-9]{2}:[0-9]{2})?$"
)
HAS_OFFSET_PATTERN = r"(Z|[+-][0-9]{2}:[0-9]{2})$"
DATE_ONLY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

_number = re.compile(NUMBER_PATTERN)
_email = re.compile(EMAIL_PATTERN)
_nanp = re.compile(NANP_PATTERN)
_international = re.compile(INTERNATIONAL_PATTERN)
_slug = re.compile(SLUG_PATTERN)
_datetime = re.compile(DATETIME_PATTERN)
_has_offset = re.compile(HAS_OFFSET_PATTERN)
_date_only = re.compile(DATE_ONLY_PATTERN)

PHONE_ERROR = "not a valid phone number; use E.164 (+17025550100) or a 10-digit US/Canada number"
EMAIL_ERROR = "not a valid email address"
NUMBER_ERROR = "not a number"
DATETIME_ERROR = "not an ISO 8601 date-time (e.g. 2026-11-20T10:00:00Z)"
ID_ERROR = "must be 1-128 characters: ASCII letters, digits, '.', '_', ':', '-', starting with a letter or digit"
SLUG_ERROR = "must be a slug of lower-case letters, digits and hyphens (e.g. las-vegas)"


def blank_to_none(value: str | None) -> str | None:
    """Trim surrounding whitespace; an empty cell means the value is absent."""
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def parse_number(text: str) -> float:
    if not _number.match(text):
        raise ValueError(NUMBER_ERROR)
    value = float(text)
    if not math.isfinite(value):  # "1e400" overflows to infinity: as unusable as "abc"
        raise ValueError(NUMBER_ERROR)
    return value


def normalize_email(text: str) -> str:
    if not _email.match(text):
        raise ValueError(EMAIL_ERROR)
    return text.lower()


def compact_phone(text: str) -> str:
    for separator in PHONE_SEPARATORS:
        text = text.replace(separator, "")
    return text


def normalize_phone(text: str) -> str:
    """Return the E.164 form of a phone number, or raise ValueError."""
    compact = compact_phone(text)
    if _nanp.match(compact):
        return "+1" + compact[-10:]
    if _international.match(compact):
        return compact
    raise ValueError(PHONE_ERROR)


def normalize_slug(text: str) -> str:
    slug = text.lower()
    if not _slug.match(slug):
        raise ValueError(SLUG_ERROR)
    return slug


def parse_datetime(text: str) -> datetime:
    """Parse the ISO 8601 subset the columnar path understands; a value without an offset is UTC."""
    if not _datetime.match(text):
        raise ValueError(DATETIME_ERROR)
    if _date_only.match(text):
        text += "T00:00:00"
    if not _has_offset.search(text):
        text += "Z"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(DATETIME_ERROR) from exc
    return parsed.astimezone(UTC)
