"""Recognise the columns of a CRM export that identify a person (names, emails, phones, addresses, ids).

A model must never learn from who a lead is: such a column would at best memorise individuals and at worst act as
a proxy for protected attributes (a surname for ethnicity, a first name for gender). Spec inference leaves these
columns out by default and says why; `aiqleads train --include COLUMN` overrides it for one column.

A column is recognised by its name (its words, so `Lead Name`, `contactEmail` and `phone_number` all count) or by
what it holds (most values shaped like emails, phone numbers or person names), because exports name things in
every language of CRM and a name alone is not enough.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from aiqleads.validation import grammar

# Of the non-empty cells; below 100% so that a few junk cells (1% in our generated exports) do not hide a column.
CONTENT_SHARE = 0.8
# A column of person-shaped values with this few distinct values is a category (lead sources such as "Open House").
MIN_DISTINCT_NAMES = 60
# An id-named column this distinct identifies rows (a lead or contact id); less distinct ones are references to a
# category (`Campaign ID`, `Agent ID`) and stay usable.
ID_DISTINCT_SHARE = 0.5

_EMAIL_WORDS = frozenset({"email", "mail", "emailaddress"})
_PHONE_WORDS = frozenset({"phone", "telephone", "tel", "mobile", "cell", "cellphone", "fax", "whatsapp", "sms"})
_ADDRESS_WORDS = frozenset({"address", "street", "addr", "ssn"})
_ID_WORDS = frozenset({"id", "uuid", "guid", "key"})
_NAME_WORDS = frozenset({"name", "surname", "firstname", "lastname", "fullname", "forename"})
# The words that may sit beside `name` in a person's name column; `Campaign Name` or `Property Name` are not one.
_NAME_CONTEXT = _NAME_WORDS | frozenset(
    {"first", "last", "full", "given", "family", "middle", "contact", "lead", "client", "customer", "buyer"}
    | {"seller", "owner", "person", "display", "prospect", "sur"}
)
# Two to four capitalised words, optionally "Last, First": RE2 syntax, as pyarrow's regex kernels use.
_PERSON_PATTERN = r"^\p{Lu}[\p{L}'.\-]*(,? \p{Lu}[\p{L}'.\-]*){1,3}$"
_PHONE_STRIP = "[" + re.escape("".join(grammar.PHONE_SEPARATORS)) + "]"


def words(column: str) -> list[str]:
    """`contactEmail` -> [contact, email]; `Lead Name` -> [lead, name]; `E-mail` -> [e, mail]."""
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", column)]


def by_name(column: str) -> str | None:
    """What the column's name says it holds, when that is a personal identifier."""
    found = set(words(column))
    if found & _EMAIL_WORDS:
        return "email addresses"
    if found & _PHONE_WORDS:
        return "phone numbers"
    if found & _ADDRESS_WORDS:
        return "addresses"
    if found & _NAME_WORDS and found <= _NAME_CONTEXT:
        return "person names"
    return None


def _share(matches: pa.Array, present: int) -> float:
    return pc.sum(pc.cast(matches, pa.int64())).as_py() / present if present else 0.0


def personal_identifier(column: str, text: pa.Array, distinct: int) -> str | None:
    """Why `column` is a personal identifier (for the report), or None. `text`: its trimmed non-empty cells."""
    present = len(text)
    named = by_name(column)
    if named:
        return f"personal identifier: its name says {named}"
    if set(words(column)) & _ID_WORDS and distinct > ID_DISTINCT_SHARE * present:
        return "personal identifier: an id column (a different value on most rows)"
    if _share(pc.match_substring_regex(text, grammar.EMAIL_PATTERN), present) >= CONTENT_SHARE:
        return "personal identifier: its values are email addresses"
    digits = pc.replace_substring_regex(text, _PHONE_STRIP, "")
    phones = pc.or_(
        pc.match_substring_regex(digits, grammar.NANP_PATTERN),
        pc.match_substring_regex(digits, grammar.INTERNATIONAL_PATTERN),
    )
    if _share(phones, present) >= CONTENT_SHARE:
        return "personal identifier: its values are phone numbers"
    if distinct > MIN_DISTINCT_NAMES and _share(pc.match_substring_regex(text, _PERSON_PATTERN), present) >= 0.95:
        return f"personal identifier: its values look like person names ({distinct} different)"
    return None
