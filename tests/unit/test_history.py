"""Historical import: a bulk file's `outcome` / `outcome_at` columns are read in the forms `aiqleads train`
accepts, a bad value is that row's error naming its field, the outcomes never reach the model, and each outcome
becomes the same conversion item `POST /v1/conversions` writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from aiqleads.composition import default_scorer
from aiqleads.models import Conversion, Outcome
from aiqleads.scoring.batch import score_table
from aiqleads.storage.codec import decode_item, encode_item
from aiqleads.storage.lead_items import put_requests
from aiqleads.storage.leads import (
    CONVERSION_PREFIX,
    LeadOutcome,
    conversion_item,
    latest_outcomes,
    outcome_from_item,
)
from aiqleads.validation.columnar import OUTCOME_COLUMNS, OUTCOME_ERROR
from aiqleads.validation.labels import NEGATIVE, POSITIVE
from aiqleads_offline.generate import generate_table

UPLOADED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
CREATED = "2026-01-05T00:00:00Z"


def _batch(outcomes: list[str | None], outcome_at: list[str | None] | None = None) -> pa.Table:
    rows: list[dict[str, Any]] = generate_table(len(outcomes), 5, leads_only=True, invalid_rate=0.0).to_pylist()
    for index, row in enumerate(rows):
        row["created_at"] = CREATED
        row["outcome"] = outcomes[index]
        if outcome_at is not None:
            row["outcome_at"] = outcome_at[index]
    return pa.Table.from_pylist(rows).cast(pa.schema([(name, pa.string()) for name in rows[0]]))


def _conversions(requests: list[str]) -> list[dict[str, Any]]:
    items = [decode_item(json.loads(request)["PutRequest"]["Item"]) for request in requests]
    return [item for item in items if item["sk"].startswith(CONVERSION_PREFIX)]


def test_every_form_train_accepts_is_an_outcome_and_blank_is_none() -> None:
    forms = [*POSITIVE, *(form.upper() for form in POSITIVE), *NEGATIVE, f"  {NEGATIVE[0]} ", "", None]
    scored = score_table(default_scorer(), _batch(forms))
    assert scored.error_lines() == []
    expected = ["converted"] * (2 * len(POSITIVE)) + ["lost"] * (len(NEGATIVE) + 1) + [None, None]
    assert scored.columns["outcome"].to_pylist() == expected


def test_a_bad_outcome_or_outcome_at_is_the_rows_error_naming_its_field() -> None:
    outcomes = ["maybe", "converted", "lost", None, "yes", "no", "converted"]
    times = [None, "next tuesday", "2025-12-31", "2026-03-01T00:00:00Z", "2026-02-30", "1990-01-01", "2026-03-01"]
    scored = score_table(default_scorer(), _batch(outcomes, times), first_row=1)
    errors = [(line["row"], line["field"], line["message"]) for line in scored.error_lines()]
    assert [(row, field) for row, field, _ in errors] == [
        (1, "outcome"),
        (2, "outcome_at"),
        (3, "outcome_at"),
        (4, "outcome_at"),
        (5, "outcome_at"),
        (6, "outcome_at"),
    ]
    messages = [message for _, _, message in errors]
    assert messages[0] == OUTCOME_ERROR
    assert messages[2] == "outcome_at is before created_at"
    assert messages[3] == "outcome_at needs an outcome"
    assert "year" in messages[5]
    assert scored.error_lines()[0]["value"] == "maybe"
    assert scored.scored == 1  # the rest is scored
    assert scored.columns["outcome"].to_pylist() == ["converted"]


def test_outcomes_are_never_model_inputs() -> None:
    scorer = default_scorer()
    assert not set(OUTCOME_COLUMNS) & set(scorer.spec.inputs)
    plain = _batch([None] * 200)
    converted = plain.set_column(plain.schema.get_field_index("outcome"), "outcome", pa.array(["1"] * 200))
    converted = converted.append_column("outcome_at", pa.array(["2026-06-01T00:00:00Z"] * 200))
    lost = plain.set_column(plain.schema.get_field_index("outcome"), "outcome", pa.array(["lost"] * 200))
    without = plain.drop_columns(["outcome"])
    results = [score_table(scorer, table).table for table in (without, plain, converted, lost)]
    for other in results[1:]:
        for name in ("probability", "score", "grade", "reasons"):
            assert other.column(name).to_pylist() == results[0].column(name).to_pylist()


def test_bulk_conversion_items_are_the_api_shape() -> None:
    outcomes = ["converted", "0", None, "won", "lost"]
    times = ["2026-03-01T12:00:00+02:00", None, None, "2026-04-02", None]
    scored = score_table(default_scorer(), _batch(outcomes, times))
    ids = scored.columns["id"].to_pylist()
    built = _conversions(put_requests("acme", scored, uploaded_at=UPLOADED, job_id="job-1"))
    at = [datetime(2026, 3, 1, 10, tzinfo=UTC), UPLOADED, None, datetime(2026, 4, 2, tzinfo=UTC), UPLOADED]
    expected = [
        conversion_item(
            "acme",
            ids[row],
            "lost" if outcomes[row] in ("0", "lost") else "converted",
            at[row],
            recorded_at=UPLOADED,
            via="bulk",
            at_reported=times[row] is not None,
            job_id="job-1",
        )
        for row in (0, 1, 3, 4)
    ]
    assert built == [decode_item(encode_item(item)) for item in expected]
    # The API's item differs only in who reported it and when we learned it.
    api = conversion_item("acme", ids[0], "converted", at[0], recorded_at=UPLOADED)
    assert {k: v for k, v in api.items() if built[0][k] != v} == {"via": "api"}
    assert set(built[0]) - set(api) == {"job_id"}


def test_a_repeated_lead_id_writes_one_conversion_per_key_with_its_last_row() -> None:
    table = _batch(["converted", "lost", "converted"], ["2026-03-01", "2026-03-01", "2026-05-01"])
    ids = table.column("id").to_pylist()
    table = table.set_column(0, "id", pa.array([ids[0], ids[0], ids[2]]))
    built = _conversions(put_requests("acme", score_table(default_scorer(), table), uploaded_at=UPLOADED))
    assert [(item["lead_id"], item["outcome"]) for item in built] == [(ids[0], "lost"), (ids[2], "converted")]


def test_a_file_without_outcomes_writes_no_conversion_items() -> None:
    table = _batch([None] * 20).drop_columns(["outcome"])
    scored = score_table(default_scorer(), table)
    assert "outcome" not in scored.columns
    requests = put_requests("acme", scored)
    assert len(requests) == 40
    assert _conversions(requests) == []


def test_an_item_stored_before_outcomes_were_dated_reads_as_the_apis() -> None:
    old = {"pk": "acme#l1", "sk": "conversion#2026-02-01T00:00:00Z", "tenant_id": "acme", "lead_id": "l1"}
    old |= {"outcome": "lost", "at": "2026-02-01T00:00:00Z"}
    outcome = outcome_from_item(old)
    assert (outcome.via, outcome.at_reported, outcome.recorded_at) == ("api", True, outcome.at)


def test_the_latest_outcome_of_a_lead_wins() -> None:
    def made(lead: str, outcome: str, day: int) -> LeadOutcome:
        at = datetime(2026, 3, day, tzinfo=UTC)
        return LeadOutcome(lead_id=lead, outcome=Outcome(outcome), at=at, at_reported=True, recorded_at=at, via="api")

    latest = latest_outcomes([made("a", "lost", 2), made("b", "lost", 1), made("a", "converted", 5)])
    assert {lead: o.outcome.value for lead, o in latest.items()} == {"a": "converted", "b": "lost"}
    assert latest_outcomes([made("a", "converted", 5), made("a", "lost", 2)])["a"].outcome == Outcome.CONVERTED


@pytest.mark.parametrize("outcome", list(Outcome))
def test_an_api_conversion_item_reads_back_as_its_outcome(outcome: Outcome) -> None:
    conversion = Conversion(lead_id="l1", outcome=outcome, at=datetime(2026, 3, 1, tzinfo=UTC))
    item = conversion_item("acme", conversion.lead_id, conversion.outcome.value, conversion.at)
    read = outcome_from_item(decode_item(encode_item(item)))
    assert (read.lead_id, read.outcome, read.at, read.via, read.at_reported) == (
        "l1",
        outcome,
        conversion.at,
        "api",
        True,
    )
