"""Lead and score items of a scored batch, built from its validated columns: the columnar twin of
`LeadRepository.lead_item` / `score_item` (with the lead's card) followed by `codec.encode_item`.

No `Lead`, `Score` or `LeadCard` is built per row: every JSON attribute (the lead's wire form, the reasons, the
card) is assembled a column at a time, and the items come out in DynamoDB's AttributeValue form, ready for
BatchWriteItem without TypeSerializer's walk. A test proves the items equal, attribute for attribute, those the
per-lead builders give for the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from aiqleads.recommendations.card import DISPOSABLE_DOMAINS, ROLE_MAILBOXES, suspicious_phone
from aiqleads.scoring.batch import ScoredBatch
from aiqleads.storage.json_columns import compact_object, member, pydantic_json, quoted
from aiqleads.storage.leads import LEAD_SK, SCORE_SK

Columns = Mapping[str, pa.Array]
Item = dict[str, dict[str, str]]
SECONDS = "%Y-%m-%dT%H:%M:%SZ"  # storage.leads._iso and LeadCard.created_at
# LeadCard.completeness: the share of these that are filled in (timeline counts unless "unknown").
_COMPLETENESS = ("name", "email", "phone", "property_type", "price", "beds", "sqft", "lat", "description")
_COMPLETENESS_TEXT = pa.array([json.dumps(round(k / 10, 3)) for k in range(11)], type=pa.string())


def _seconds(moments: pa.Array, now: str) -> pa.Array:
    """ISO text to the second, UTC (`now` for a missing value)."""
    whole = pc.cast(moments, pa.timestamp("s", tz="UTC"), safe=False)  # years 2000-2100: truncation is floor
    return pc.fill_null(pc.strftime(whole, format=SECONDS), now)


def lead_json(columns: Columns) -> pa.Array:
    """`Lead.model_dump_json(exclude_none=True)` of each row of validated lead columns."""
    text = {name: quoted(columns[name]) for name in ("id", "source", "name", "email", "phone", "property_type")}
    text |= {name: quoted(columns[name]) for name in ("market", "intent", "timeline", "description")}
    number = {name: pydantic_json(columns[name]) for name in ("price", "baths", "sqft", "lat", "lon")}
    beds = pydantic_json(pc.cast(columns["beds"], pa.int64()))  # an int in the model (validation saw to that)
    contact = compact_object([member(name, text[name]) for name in ("name", "email", "phone")])
    prop = compact_object(
        [
            member("type", text["property_type"]),
            member("price", number["price"]),
            member("beds", beds),
            *(member(name, number[name]) for name in ("baths", "sqft", "lat", "lon")),
            member("market", text["market"]),
        ]
    )
    return compact_object(
        [
            member("id", text["id"]),
            member("source", text["source"]),
            member("created_at", pydantic_json(columns["created_at"])),
            member("contact", contact),
            member("property", prop),
            member("intent", text["intent"]),
            member("timeline", text["timeline"]),
            member("description", text["description"]),
            member("attributes", "{}"),  # flat files carry no attributes
        ]
    )


def _flag(mask: pa.Array) -> pa.Array:
    return pc.if_else(pc.fill_null(mask, False), "true", "false")


def card_json(columns: Columns, created: pa.Array) -> pa.Array:
    """`json.dumps(LeadCard.of(lead).as_dict(), separators=(",", ":"))` of each row; `created` is the card's
    created_at text (the clock's for a lead without one)."""
    email, phone, name = columns["email"], columns["phone"], columns["name"]
    parts = pc.extract_regex(email, r"^(?P<local>[^@]*)@(?P<domain>.*)$")  # validated: exactly one @
    domain, local = pc.struct_field(parts, "domain"), pc.struct_field(parts, "local")
    filled = pc.cast(pc.not_equal(columns["timeline"], "unknown"), pa.int64())
    for field in _COMPLETENESS:
        filled = pc.add(filled, pc.cast(pc.is_valid(columns[field]), pa.int64()))
    price = [None if value is None else repr(value) for value in columns["price"].to_pylist()]
    suspicious = pa.array([suspicious_phone(value) for value in phone.to_pylist()], type=pa.bool_())
    fields: list[tuple[str, pa.Array]] = [
        ("source", quoted(columns["source"], ensure_ascii=True)),
        ("property_type", pc.fill_null(quoted(columns["property_type"], ensure_ascii=True), "null")),
        ("price", pc.fill_null(pa.array(price, type=pa.string()), "null")),
        ("created_at", quoted(created, ensure_ascii=True)),
        ("intent", quoted(columns["intent"], ensure_ascii=True)),
        ("timeline", quoted(columns["timeline"], ensure_ascii=True)),
        ("has_email", _flag(pc.is_valid(email))),
        ("has_phone", _flag(pc.is_valid(phone))),
        ("has_name", _flag(pc.is_valid(name))),
        ("disposable_email", _flag(pc.is_in(domain, value_set=pa.array(sorted(DISPOSABLE_DOMAINS))))),
        ("role_email", _flag(pc.is_in(local, value_set=pa.array(sorted(ROLE_MAILBOXES))))),
        ("suspicious_phone", _flag(suspicious)),
        ("completeness", pc.take(_COMPLETENESS_TEXT, filled)),
    ]
    return compact_object([member(key, value) for key, value in fields])


def _number(value: float) -> str:
    """A float's DynamoDB number text, as codec.encode_value writes it (Decimal of its repr)."""
    return str(Decimal(repr(value)))


def items_of(tenant_id: str, scored: ScoredBatch, now: datetime | None = None) -> list[Item]:
    """The lead and score items of the batch's valid rows, in row order (lead, then score), AttributeValue
    form. A lead id that repeats keeps its first place and its last row's values, as one write per key must."""
    columns, scores = scored.columns, scored.scores
    now_text = (now or datetime.now(UTC)).astimezone(UTC).strftime(SECONDS)
    created = _seconds(columns["created_at"], now_text)
    pair = _Pair(tenant_id, now_text, scores.model_version)
    rows = zip(
        columns["id"].to_pylist(),
        columns["market"].to_pylist(),
        columns["source"].to_pylist(),
        created.to_pylist(),
        lead_json(columns).to_pylist(),
        scores.probability.tolist(),
        scores.score.tolist(),
        scores.grade.tolist(),
        scored.explainer.reason_json(scores.reasons).to_pylist(),
        card_json(columns, created).to_pylist(),
        strict=True,
    )
    pairs = {row[0]: pair(*row) for row in rows}
    return [item for both in pairs.values() for item in both]


class _Pair:
    """One row's (lead item, score item); the attribute values every item shares are made once."""

    def __init__(self, tenant_id: str, now: str, model_version: str):
        self.tenant_id, self.tenant, self.clock = tenant_id, {"S": tenant_id}, {"S": now}
        self.lead_sk, self.score_sk, self.version = {"S": LEAD_SK}, {"S": SCORE_SK}, {"S": model_version}

    def __call__(
        self,
        lead_id: str,
        market: str,
        source: str,
        created_at: str,
        lead: str,
        probability: float,
        score: int,
        grade: str,
        reasons: str,
        card: str,
    ) -> tuple[Item, Item]:
        tenant_id, tenant, clock = self.tenant_id, self.tenant, self.clock
        pk, lead_value, market_value = {"S": f"{tenant_id}#{lead_id}"}, {"S": lead_id}, {"S": market}
        lead_item = {
            "pk": pk,
            "sk": self.lead_sk,
            "tenant_id": tenant,
            "lead_id": lead_value,
            "market": market_value,
            "source": {"S": source},
            "created_at": {"S": created_at},
            "stored_at": clock,
            "lead": {"S": lead},
            "gsi2pk": tenant,
            "gsi2sk": {"S": f"{created_at}#{lead_id}"},
        }
        score_item = {
            "pk": pk,
            "sk": self.score_sk,
            "tenant_id": tenant,
            "lead_id": lead_value,
            "market": market_value,
            "probability": {"N": _number(probability)},
            "score": {"N": str(score)},
            "grade": {"S": grade},
            "reasons": {"S": reasons},
            "model_version": self.version,
            "scored_at": clock,
            "gsi1pk": {"S": f"{tenant_id}#{market}"},
            "gsi1sk": {"S": f"{score:03d}#{lead_id}"},
            "card": {"S": card},
        }
        return lead_item, score_item
