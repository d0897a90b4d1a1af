"""Batch scoring writes what it wrote before it had one path: fixed inputs, outputs recorded then (tests/fixtures/batch)."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import pytest

from aiqleads_offline.cli import main

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "batch"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "ndjson"])
def test_cli_scoring_gives_the_golden_bytes(tmp_path: Path, fmt: str) -> None:
    source = tmp_path / f"leads.{fmt}"
    shutil.copy(GOLDEN / f"leads.{'jsonl' if fmt == 'ndjson' else fmt}", source)
    output = tmp_path / f"leads.scored.{fmt}"
    assert main(["score", str(source), "-o", str(output), "-q"]) == 0
    assert output.read_bytes() == (GOLDEN / f"leads.scored.{'jsonl' if fmt == 'ndjson' else fmt}").read_bytes()
    assert (tmp_path / f"leads.scored.{fmt}.errors.jsonl").read_bytes() == (GOLDEN / "leads.errors.jsonl").read_bytes()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_small_batches_from_many_threads_give_the_same_bytes(tmp_path: Path, fmt: str) -> None:
    from aiqleads.composition import default_scorer
    from aiqleads.files.score_file import score_file

    output = tmp_path / f"leads.scored.{fmt}"
    score_file(GOLDEN / f"leads.{fmt}", output, default_scorer(), progress=False, batch_rows=37, workers=3)
    assert output.read_bytes() == (GOLDEN / f"leads.scored.{fmt}").read_bytes()
    assert (tmp_path / f"leads.scored.{fmt}.errors.jsonl").read_bytes() == (GOLDEN / "leads.errors.jsonl").read_bytes()


class _Frozen(datetime):
    """datetime whose now() is FIXED: the items read the clock for stored_at, scored_at and missing created_at."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        return FIXED if tz is not None else FIXED.replace(tzinfo=None)


FIXED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import aiqleads.recommendations.card
    import aiqleads.storage.lead_items
    import aiqleads.storage.leads

    for module in (aiqleads.storage.leads, aiqleads.recommendations.card, aiqleads.storage.lead_items):
        monkeypatch.setattr(module, "datetime", _Frozen)


def _golden_items() -> list[dict[str, Any]]:
    with gzip.open(GOLDEN / "items.jsonl.gz", "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@pytest.mark.usefixtures("pinned_clock")
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_bulk_items_are_the_golden_items(fmt: str) -> None:
    from aiqleads.composition import default_scorer
    from aiqleads.files.tabular import TableReader
    from aiqleads.scoring.batch import score_table
    from aiqleads.storage.codec import encode_item
    from aiqleads.storage.lead_items import put_requests

    scorer = default_scorer()
    items, first = [], 1
    for batch in TableReader(GOLDEN / f"leads.{fmt}", batch_rows=128).batches():
        items += [
            json.loads(request)["PutRequest"]["Item"]
            for request in put_requests("acme", score_table(scorer, batch, first))
        ]
        first += batch.num_rows
    assert items == [encode_item(item) for item in _golden_items()]
