"""Lead and score items built from a batch's columns (as the JSON of their put requests) equal, attribute for
attribute, those the per-lead builders (`lead_from_flat` -> `Lead`, `Score` -> `LeadRepository.lead_item` /
`score_item` -> `encode_item`) give."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from aiqleads.composition import default_scorer
from aiqleads.leads import trend
from aiqleads.leads.history import HistoryStamp
from aiqleads.models import Score, ScoreCause, ScoreHistoryEntry
from aiqleads.scoring.batch import ScoredBatch, score_table
from aiqleads.scoring.scorer import Scorer, reason
from aiqleads.storage.codec import encode_item, encode_value
from aiqleads.storage.lead_items import BatchHistory, _number, put_requests, score_requests
from aiqleads.storage.leads import LeadRepository
from aiqleads.validation.flat import LEAD_COLUMNS, lead_from_flat
from aiqleads_offline.generate import generate_table

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class _Frozen(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return NOW if tz is not None else NOW.replace(tzinfo=None)


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import aiqleads.recommendations.card
    import aiqleads.storage.lead_items
    import aiqleads.storage.leads

    for module in (aiqleads.storage.leads, aiqleads.recommendations.card, aiqleads.storage.lead_items):
        monkeypatch.setattr(module, "datetime", _Frozen)


def per_lead_items(
    tenant_id: str, scored: ScoredBatch, scorer: Scorer, history: BatchHistory | None = None
) -> list[dict[str, Any]]:
    """The bulk function's items as it built them before they came from columns (one Lead and Score per row);
    with `history`, each score item has its trend points and is followed by its history item, as
    `LeadRepository.create` writes them."""
    repository = LeadRepository("LeadsTable", history_retention_days=history.retention_days if history else 180)
    validated = scored.validated
    matrix = scorer.columnar_features.matrix(validated.typed, validated.size)[validated.valid]
    rows = scored.table.select([c for c in LEAD_COLUMNS if c in scored.table.column_names]).to_pylist()
    items: dict[tuple[str, str], dict[str, Any]] = {}
    for index, row in enumerate(rows):
        lead = lead_from_flat(row)
        score = Score.model_validate(
            {
                "lead_id": lead.id,
                "probability": scored.scores.probability[index].item(),
                "score": scored.scores.score[index].item(),
                "grade": str(scored.scores.grade[index]),
                "fit": None if scored.scores.fit is None else scored.scores.fit[index].item(),
                "engagement": None if scored.scores.engagement is None else scored.scores.engagement[index].item(),
                "matrix_grade": None if scored.scores.matrix_grade is None else str(scored.scores.matrix_grade[index]),
                "reasons": [reason(factor) for factor in scorer.explainer.factors(matrix[index])],
                "model_version": scorer.model_version,
            }
        )
        if scorer.input_codes is not None:  # what the record path stores: its own codes of the lead's vector
            score._inputs = scorer.input_codes.row(matrix[index])
        recent = None if history is None else trend.extend([], history.stamp.at, score.score)
        built = [repository.lead_item(tenant_id, lead), repository.score_item(tenant_id, lead.property.market, score,
                                                                              lead, recent)]  # fmt: skip
        if history is not None:
            built.append(repository.history_item(tenant_id, score, history.stamp))
        for item in built:
            items[(item["pk"], item["sk"])] = item
    return [encode_item(item) for item in items.values()]


# Cells where a JSON writer, a number format or a card rule could drift from the per-lead path.
EDITS: list[dict[str, str | None]] = [
    {"name": 'Ana "the closer" O\'Neil, Jr.\\', "description": "Line one\nline two\ttab \u0001 ctrl é ü 😀 \u2028"},
    {"name": "  Zoë  ", "email": "  INFO@Mailinator.COM ", "phone": "+1 (702) 555-0199"},
    {"email": "noreply@example.com", "phone": "7025550123", "property_type": None, "timeline": None},
    {"email": None, "phone": "+447946095800", "lat": "0.0000001", "lon": "-1e-5", "price": "1e5"},
    {"created_at": "2026-11-20T10:00:00.5+02:00", "beds": "3.0", "baths": "2.50", "sqft": "100"},
    {"created_at": "2026-11-20", "price": " 425000 ", "lat": "-0", "lon": "179.9999999999"},
    {"created_at": None, "description": None, "name": None, "beds": None, "price": None, "sqft": None},
    {"created_at": "2026-11-20 10:00", "phone": "702.777.7777", "email": None, "market": "Las-Vegas"},
    {"phone": "+12345678901", "source": "ZILLOW", "intent": "sell", "timeline": "12+ months"},
    {"email": "a.b-c+d@sub.example.co.uk", "phone": None, "description": "   "},
]


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = generate_table(600, 23, invalid_rate=0.05).to_pylist()
    for index, edit in enumerate(EDITS * 6):
        rows[index * 7 + 3].update(edit)
    rows[100]["id"] = rows[20]["id"]  # a repeated id: one write per key, the later row's values
    rows[101]["id"] = rows[20]["id"]
    return rows


UPLOADED = datetime(2026, 1, 2, 3, 0, 0, 250000, tzinfo=UTC)
HISTORY = BatchHistory(HistoryStamp(UPLOADED, ScoreCause.INGEST, "job-1"), retention_days=30)


@pytest.mark.parametrize(("batch_rows", "history"), [(600, None), (97, None), (600, HISTORY), (97, HISTORY)])
def test_items_from_columns_are_the_per_lead_items(batch_rows: int, history: BatchHistory | None) -> None:
    scorer = default_scorer()
    rows = _rows()
    compared = invalid = 0
    for start in range(0, len(rows), batch_rows):
        batch = pa.Table.from_pylist(rows[start : start + batch_rows]).cast(
            pa.schema([(name, pa.string()) for name in rows[0]])
        )
        scored = score_table(scorer, batch, start + 1)
        invalid += scored.rows - scored.scored
        expected = per_lead_items("acme", scored, scorer, history)
        requests = put_requests("acme", scored, history=history)
        built = [json.loads(request)["PutRequest"]["Item"] for request in requests]
        assert len(built) == len(expected)
        for ours, theirs in zip(built, expected, strict=True):
            assert ours == theirs, {k: (ours.get(k), theirs.get(k)) for k in theirs if ours.get(k) != theirs.get(k)}
        compared += len(expected)
        if history is not None:
            histories = [item for item in built if item["sk"]["S"].startswith("history#")]
            assert len(histories) == len(built) // 3
            assert histories[0]["expires_at"] == {"N": str(int(UPLOADED.timestamp()) + 30 * 86400)}
            assert histories[0]["at"] == {"S": "2026-01-02T03:00:00.250000Z"}
            assert not any(name.startswith("gsi") for item in histories for name in item)
            from aiqleads.storage.batch import write_chunks

            for chunk in write_chunks(requests):  # a row's items are never split between two calls
                pks = [json.loads(r)["PutRequest"]["Item"]["pk"]["S"] for r in chunk]
                assert len(pks) <= 25
                assert pks.count(pks[-1]) == 3
                assert pks.count(pks[0]) == 3
    assert compared > 1000
    assert invalid > 20


def test_rescored_items_carry_their_history_item_and_extended_trend_points() -> None:
    scorer = default_scorer()
    rows = [row for row in _rows()[:120] if row["id"] != _rows()[20]["id"]]
    batch = pa.Table.from_pylist(rows).cast(pa.schema([(name, pa.string()) for name in rows[0]]))
    scored = score_table(scorer, batch)
    history = BatchHistory(HistoryStamp(NOW, ScoreCause.RESCORING, "rescore-1"))
    old = [[("2025-12-20T00:00:00Z", 40), ("2025-12-30T00:00:00Z", 45)] for _ in range(scored.scored)]
    built = [json.loads(r)["PutRequest"]["Item"] for r in score_requests("acme", scored, history=history, recent=old)]
    scores, histories = built[0::2], built[1::2]
    assert [i["sk"]["S"] for i in scores] == ["score"] * scored.scored
    for item, entry, new in zip(scores, histories, scored.scores.score.tolist(), strict=True):
        assert entry["pk"] == item["pk"]
        assert entry["cause"] == {"S": "rescoring"}
        assert entry["score"] == item["score"]
        assert entry["probability"] == item["probability"]
        # Every field a history entry has (fit, engagement and the matrix grade with them), as the score item has it.
        kept = set(ScoreHistoryEntry.model_fields) - {"at", "cause"}
        assert set(entry) == {"pk", "sk", "tenant_id", "lead_id", "at", "cause", "expires_at"} | kept
        assert {name: entry[name] for name in kept} == {name: item[name] for name in kept}
        assert {"fit", "engagement", "matrix_grade"} <= kept
        assert trend.loads(item["recent_scores"]["S"]) == trend.extend(old[0], NOW, new)
    # Redone (a crash, the page again): the same keys.
    again = [json.loads(r)["PutRequest"]["Item"] for r in score_requests("acme", scored, history=history, recent=old)]
    assert [i["sk"] for i in again[1::2]] == [i["sk"] for i in histories]


def test_score_items_alone_are_the_bulk_ones_with_a_sale_mark_kept() -> None:
    """Rescoring writes only score items: those of `put_requests`, with the old item's `sold_exclusive_at`."""
    scorer = default_scorer()
    rows = [row for row in _rows()[:200] if row["id"] != _rows()[20]["id"]]
    batch = pa.Table.from_pylist(rows).cast(pa.schema([(name, pa.string()) for name in rows[0]]))
    scored = score_table(scorer, batch)
    sold = pa.array(["2026-11-30T00:00:00Z" if i % 3 == 0 else None for i in range(scored.scored)], pa.string())
    expected = [item for item in (json.loads(r)["PutRequest"]["Item"] for r in put_requests("acme", scored))
                if item["sk"] == {"S": "score"}]  # fmt: skip
    for index, item in enumerate(expected):
        if index % 3 == 0:
            item["sold_exclusive_at"] = {"S": "2026-11-30T00:00:00Z"}
    built = [json.loads(r)["PutRequest"]["Item"] for r in score_requests("acme", scored, sold_exclusive_at=sold)]
    assert built == expected
    unsold = [json.loads(r)["PutRequest"]["Item"] for r in score_requests("acme", scored)]
    assert unsold == [{k: v for k, v in item.items() if k != "sold_exclusive_at"} for item in expected]


def test_item_numbers_are_the_codecs() -> None:
    for value in (0.011059105396270752, 1e-7, 1.2e-05, 0.5, 1.0, 0.0, 0.1 + 0.2, 1.401298464324817e-45, 0.99999999):
        assert {"N": _number(value)} == encode_value(value)


def test_json_floats_and_datetimes_are_pydantics() -> None:
    import random
    import struct

    import pydantic_core

    from aiqleads.storage.json_columns import json_datetimes, json_floats

    draw = random.Random(11)
    floats = [1e-7, 1.2e-05, 9.99e-6, 1e-5, 0.0, -0.0, 479000.0, 1e15, 1e16, 2.5e21, 33.52261, -112.15367, None]
    floats += [draw.uniform(-1, 1) * 10 ** draw.uniform(-8, 18) for _ in range(3000)]
    floats += [struct.unpack("d", struct.pack("Q", draw.getrandbits(62)))[0] for _ in range(3000)]
    texts = json_floats(pa.array(floats, type=pa.float64())).to_pylist()
    assert texts == [None if value is None else pydantic_core.to_json(value).decode() for value in floats]
    moments = [datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC), datetime(2000, 1, 1, tzinfo=UTC), None]
    moments += [datetime.fromtimestamp(draw.uniform(9.5e8, 4e9), UTC) for _ in range(2000)]
    texts = json_datetimes(pa.array(moments, type=pa.timestamp("us", tz="UTC"))).to_pylist()
    assert texts == [None if moment is None else pydantic_core.to_json(moment).decode() for moment in moments]
