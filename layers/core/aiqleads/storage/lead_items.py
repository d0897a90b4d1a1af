"""Lead and score items of a scored batch, built from its validated columns: the columnar twin of
`LeadRepository.lead_item` / `score_item` (with the lead's card) followed by `codec.encode_item`.

No `Lead`, `Score`, `LeadCard` or item dict is built per row: every JSON attribute (the lead's wire form, the
reasons, the card) and then every item, as the JSON of its BatchWriteItem put request, is assembled a column at
a time; `storage.batch.batch_write_json` sends them without TypeSerializer's or botocore's walk over every
attribute. A test proves the items equal, attribute for attribute, those the per-lead builders give for the
same rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aiqleads.leads import trend
from aiqleads.leads.history import HistoryStamp
from aiqleads.models import ScoreHistoryEntry
from aiqleads.recommendations.card import DISPOSABLE_DOMAINS, ROLE_MAILBOXES, suspicious_phone
from aiqleads.scoring.batch import ScoredBatch
from aiqleads.scoring.scorer import BatchScores
from aiqleads.storage.json_columns import compact_object, json_datetimes, json_floats, member, quoted
from aiqleads.storage.leads import (
    CONVERSION_PREFIX,
    DEFAULT_HISTORY_RETENTION_DAYS,
    HISTORY_PREFIX,
    LEAD_SK,
    OUTCOMES_PARTITION,
    SCORE_SK,
    history_suffix,
    history_time,
)

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
    number = {name: json_floats(columns[name]) for name in ("price", "baths", "sqft", "lat", "lon")}
    beds = pc.cast(pc.cast(columns["beds"], pa.int64()), pa.string())  # an int in the model (validation saw to it)
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
            member("created_at", json_datetimes(columns["created_at"])),
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


def put_requests(
    tenant_id: str,
    scored: ScoredBatch,
    now: datetime | None = None,
    *,
    uploaded_at: datetime | None = None,
    job_id: str | None = None,
    history: BatchHistory | None = None,
) -> list[str]:
    """The lead and score items of the batch's valid rows as BatchWriteItem's `{"PutRequest":{"Item":...}}`
    JSON, in row order (lead, then score, then its conversion item when the row has an `outcome`). A lead id
    that repeats keeps its first place and its last row's values, as one write per key must.

    A conversion item is `LeadRepository.put_conversion`'s shape (`storage.leads.conversion_item`) with
    `via` "bulk" and the job id; `uploaded_at` (the upload's time, stable across the job's invocations so a
    redone batch writes the same keys) is its `recorded_at`, and its `at` when the row has no `outcome_at`.

    With `history`, each row's score item carries its trend points (a new lead's first: `recent_scores`) and its
    history item follows it (`storage.leads.history_item`'s shape): a row's items stay together, in the same
    BatchWriteItem call (`storage.batch.batch_write_json` never splits one partition's run)."""
    columns = scored.columns
    now_text = (now or datetime.now(UTC)).astimezone(UTC).strftime(SECONDS)
    created = _seconds(columns["created_at"], now_text)
    ids = columns["id"]
    pk = pc.binary_join_element_wise(tenant_id, ids, "#")
    shared = {"tenant_id": _s(tenant_id), "lead_id": _s(ids), "market": _s(columns["market"])}
    lead = _item(
        {"pk": _s(pk), "sk": _s(LEAD_SK), **shared, "source": _s(columns["source"]), "created_at": _s(created)}
        | {"stored_at": _s(now_text), "lead": _s(lead_json(columns)), "gsi2pk": _s(tenant_id)}
        | {"gsi2sk": _s(pc.binary_join_element_wise(created, ids, "#"))}
    )
    recent = None if history is None else _first_points(scored, history.stamp.at)
    score = _score_items(tenant_id, scored, pk, created, now_text, recent)
    last = {lead_id: row for row, lead_id in enumerate(ids.to_pylist())}  # dict order: first appearance
    leads, score_items = lead.to_pylist(), score.to_pylist()
    histories: list[str | None] = [None] * len(leads)
    if history is not None:
        histories = list(history_requests(tenant_id, scored, pk, history).to_pylist())
    conversions: list[str | None] = [None] * len(leads)
    if "outcome" in columns:
        recorded = (uploaded_at or now or datetime.now(UTC)).astimezone(UTC).strftime(SECONDS)
        conversions = _conversions(tenant_id, columns, pk, recorded, job_id).to_pylist()  # None: no outcome
    return [
        text
        for row in last.values()
        for text in (leads[row], score_items[row], conversions[row], histories[row])
        if text is not None
    ]


@dataclass(frozen=True, slots=True)
class BatchHistory:
    """The history items of a batch: when and why (the stamp's key is the job id: a redone batch writes the same
    items) and how long they are kept."""

    stamp: HistoryStamp
    retention_days: int = DEFAULT_HISTORY_RETENTION_DAYS


def _first_points(scored: ScoredBatch, at: datetime) -> pa.Array:
    """`recent_scores` of a lead's first score: `trend.dumps(trend.extend([], at, score))` of each row."""
    score_text = pc.cast(pa.array(scored.scores.score), pa.string())
    return pc.binary_join_element_wise('[["' + trend.stamp(at) + '",', score_text, "]]", "")


def _score_items(
    tenant_id: str,
    scored: ScoredBatch,
    pk: pa.Array,
    created: pa.Array,
    now_text: str,
    recent: pa.Array | None = None,
) -> pa.Array:
    """The score item of each valid row (with the lead's card; with `recent`, its trend points), as its put
    request's JSON."""
    columns, scores, ids = scored.columns, scored.scores, scored.columns["id"]
    shared = {"tenant_id": _s(tenant_id), "lead_id": _s(ids), "market": _s(columns["market"])}
    score_text = pc.cast(pa.array(scores.score), pa.string())
    probability = pa.array([_number(value) for value in scores.probability.tolist()], type=pa.string())
    points = {} if recent is None else {"recent_scores": _s(recent)}
    return _item(
        {"pk": _s(pk), "sk": _s(SCORE_SK), **shared, "probability": _n(probability), "score": _n(score_text)}
        | {"grade": _s(pa.array(scores.grade, type=pa.string()))}
        | _halves(scores)
        | _inputs(scores)
        | {"reasons": _s(scored.explainer.reason_json(scores.reasons))}
        | {"model_version": _s(scores.model_version), "scored_at": _s(now_text)}
        | {"gsi1pk": _s(pc.binary_join_element_wise(tenant_id, columns["market"], "#"))}
        | {"gsi1sk": _s(pc.binary_join_element_wise(pc.utf8_lpad(score_text, 3, "0"), ids, "#"))}
        | {"card": _s(card_json(columns, created))}
        | points
    )


def _halves(scores: BatchScores) -> dict[str, Parts]:
    """Fit, engagement and the matrix grade, for a model that has them."""
    if scores.fit is None or scores.engagement is None or scores.matrix_grade is None:
        return {}
    return {
        "fit": _n(pc.cast(pa.array(scores.fit), pa.string())),
        "engagement": _n(pc.cast(pa.array(scores.engagement), pa.string())),
        "matrix_grade": _s(pa.array(scores.matrix_grade.astype(str), type=pa.string())),
    }


def _inputs(scores: BatchScores) -> dict[str, Parts]:
    """Each row's input codes (monitoring.baseline.InputCodes), for a model with a training baseline."""
    if scores.inputs is None:
        return {}
    return {"inputs": _s(pa.array(scores.inputs, type=pa.binary()).cast(pa.string()))}


def _history_value(value: Any, rows: int) -> Parts | None:
    """One score field of every row as AttributeValue JSON: a scalar shared by the batch, or a column."""
    if value is None:
        return None
    if isinstance(value, str):
        return _s(value)
    if isinstance(value, bool | int | float):
        return _n(pa.array([_number(value) if isinstance(value, float) else str(int(value))] * rows, pa.string()))
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return _n(pa.array([_number(v) for v in array.tolist()], type=pa.string()))
    if array.dtype.kind in "iu":
        return _n(pc.cast(pa.array(array), pa.string()))
    return _s(pa.array([str(v) for v in array.tolist()], type=pa.string()))


def history_requests(tenant_id: str, scored: ScoredBatch, pk: pa.Array, history: BatchHistory) -> pa.Array:
    """The history item of each valid row (`storage.leads.history_item`: the same attributes, in its order), as
    its put request's JSON. The score's fields are the batch scores' attributes of the same names, whatever
    fields Score has (one the batch does not compute is left out, as the entry allows)."""
    stamp = history.stamp
    at = history_time(stamp.at)
    sk = f"{HISTORY_PREFIX}{at}#{history_suffix(stamp.cause.value, stamp.key)}"
    rows = len(scored.scores)
    attributes: dict[str, Parts] = {
        "pk": _s(pk),
        "sk": _s(sk),
        "tenant_id": _s(tenant_id),
        "lead_id": _s(scored.columns["id"]),
        "at": _s(at),
        "cause": _s(stamp.cause.value),
    }
    for name in ScoreHistoryEntry.model_fields:
        if name in attributes:
            continue
        value = _history_value(getattr(scored.scores, name, None), rows)
        if value is not None:
            attributes[name] = value
    expires = int((stamp.at + timedelta(days=history.retention_days)).timestamp())
    attributes["expires_at"] = ['{"N":"' + str(expires) + '"}']
    return _item(attributes)


def score_requests(
    tenant_id: str,
    scored: ScoredBatch,
    now: datetime | None = None,
    *,
    sold_exclusive_at: pa.Array | None = None,
    history: BatchHistory | None = None,
    recent: Sequence[Sequence[trend.Point]] | None = None,
) -> list[str]:
    """Only the score items of the batch's valid rows (rescoring: the leads are stored already), as
    `put_requests` builds them. A put replaces the whole item, so `sold_exclusive_at` (one cell per valid row,
    null where unsold) carries the mark a sale left on the old item; the sale item stays the truth.

    With `history`, each score item is followed by its history item, and carries the trend points of the old
    item (`recent`, one sequence per valid row) extended with the new score (`trend.extend`)."""
    columns = scored.columns
    now_text = (now or datetime.now(UTC)).astimezone(UTC).strftime(SECONDS)
    pk = pc.binary_join_element_wise(tenant_id, columns["id"], "#")
    points: pa.Array | None = None
    if history is not None:
        at, olds = history.stamp.at, recent or [()] * len(scored.scores)
        texts = [
            trend.dumps(trend.extend(old, at, int(new))) for old, new in zip(olds, scored.scores.score, strict=True)
        ]
        points = pa.array(texts, type=pa.string())
    items = _score_items(tenant_id, scored, pk, _seconds(columns["created_at"], now_text), now_text, points)
    if sold_exclusive_at is not None and sold_exclusive_at.null_count < len(sold_exclusive_at):
        mark = pc.binary_join_element_wise(',"sold_exclusive_at":{"S":', quoted(sold_exclusive_at), "}", "")
        body = pc.utf8_slice_codeunits(items, 0, -3)  # before the closing "}}}"
        items = pc.binary_join_element_wise(body, pc.fill_null(mark, ""), "}}}", "")
    if history is None:
        return list(items.to_pylist())
    histories = history_requests(tenant_id, scored, pk, history).to_pylist()
    return [text for pair in zip(items.to_pylist(), histories, strict=True) for text in pair]


def _conversions(tenant_id: str, columns: Columns, pk: pa.Array, recorded: str, job_id: str | None) -> pa.Array:
    """The conversion item of each row, null where the row has no outcome (a null column nulls the join)."""
    at = _seconds(columns["outcome_at"], recorded)
    reported = pc.if_else(pc.is_valid(columns["outcome_at"]), "true", "false")
    attributes: dict[str, Parts] = {
        "pk": _s(pk),
        "sk": _s(pc.binary_join_element_wise(CONVERSION_PREFIX, at, "")),
        "tenant_id": _s(tenant_id),
        "lead_id": _s(columns["id"]),
        "outcome": _s(columns["outcome"]),
        "at": _s(at),
        "recorded_at": _s(recorded),
        "at_reported": ['{"BOOL":', reported, "}"],
        "via": _s("bulk"),
        "gsi2pk": _s(tenant_id + OUTCOMES_PARTITION),
        "gsi2sk": _s(pc.binary_join_element_wise(at, columns["id"], "#")),
    }
    if job_id is not None:
        attributes["job_id"] = _s(job_id)
    return _item(attributes)


Parts = list[pa.Array | str]  # text pieces of one JSON value per row: literals and columns, joined once


def _s(value: pa.Array | str) -> Parts:
    """A string AttributeValue's JSON."""
    if isinstance(value, str):
        return ['{"S":' + json.dumps(value, ensure_ascii=False) + "}"]
    return ['{"S":', quoted(value), "}"]


def _n(text: pa.Array) -> Parts:
    """A number AttributeValue's JSON, from the number's text."""
    return ['{"N":"', text, '"}']


def _item(attributes: dict[str, Parts]) -> pa.Array:
    """`{"PutRequest":{"Item":{...}}}` of the attributes, in the order given, in one join: nesting joins would
    copy every item's text once per level (a third of the time, at a few kilobytes an item)."""
    parts: Parts = ['{"PutRequest":{"Item":{']
    for index, (name, value) in enumerate(attributes.items()):
        parts += [("," if index else "") + json.dumps(name) + ":", *value]
    parts.append("}}}")
    merged: Parts = []
    for part in parts:
        if merged and isinstance(part, str) and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return pc.binary_join_element_wise(*merged, "")
