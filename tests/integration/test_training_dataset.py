"""A tenant's training set through the local cloud: leads, interactions and outcomes sent to the API as a client
would, applied by the events function (which logs each interaction), then read back by the DatasetBuilder the
training function holds; and the demo tenant's seeded history, trainable as `make run` leaves it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aiqleads.features.spec import default_spec
from aiqleads.storage.aggregates import InteractionLogReader
from aiqleads.storage.leads import LeadHistoryReader
from aiqleads.storage.markets import MarketSignalRepository
from aiqleads.training.dataset import DatasetBuilder, HistoryPolicy, InsufficientHistory
from aiqleads.training.pipeline import TrainingOptions, train
from aiqleads.validation.flat import LABEL_COLUMN
from tests.integration.test_backbone import LEAD, api

pytestmark = pytest.mark.integration


def builder(info: dict[str, Any], aws: Callable[[str], Any]) -> DatasetBuilder:
    """What composition.dataset_builder wires, on this cloud's tables with a client of its endpoint."""
    tables, dynamodb = info["tables"], aws("dynamodb")
    return DatasetBuilder(
        LeadHistoryReader(tables["LeadsTable"], dynamodb),
        InteractionLogReader(tables["AggregatesTable"], dynamodb),
        MarketSignalRepository(tables["MarketSignalsTable"], dynamodb),
        workers=8,
    )


def logged(aws: Callable[[str], Any], info: dict[str, Any], tenant: str, lead_id: str) -> int:
    response = aws("dynamodb").query(
        TableName=info["tables"]["AggregatesTable"],
        KeyConditionExpression="pk = :pk AND begins_with(sk, :log)",
        ExpressionAttributeValues={":pk": {"S": f"{tenant}#{lead_id}"}, ":log": {"S": "interaction#"}},
        Select="COUNT",
    )
    return int(response["Count"])


def test_a_post_outcome_signal_sent_through_the_api_stays_out_of_the_dataset(
    running_info: dict[str, Any], running_aws: Callable[[str], Any]
) -> None:
    """Converted leads get many schedules and contacts after their conversion, lost ones none: the training set
    holds each lead's behaviour as it was before its outcome, the same for both, so nothing can learn from them."""
    key, tenant = running_info["other_tenant_api_key"], running_info["other_tenant_id"]
    run = uuid.uuid4().hex[:6]
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(days=120)
    ids = [f"ds-{run}-{i}" for i in range(8)]
    converted = set(ids[::2])
    leads = [{**LEAD, "id": lead_id, "created_at": created.isoformat()} for lead_id in ids]
    status, _, body = api(running_info, "POST", "/v1/leads/batch", {"leads": leads}, key=key)
    assert status == 200, body
    outcome_at = created + timedelta(days=10)

    def event(lead_id: str, action: str, at: datetime) -> dict[str, Any]:
        return {"lead_id": lead_id, "actor": "lead", "action": action, "timestamp": at.isoformat()}

    events = [event(i, "view", created + timedelta(hours=1)) for i in ids]
    events += [event(i, "inquiry", created + timedelta(days=2)) for i in ids]
    planted = [event(i, action, outcome_at + timedelta(days=1, minutes=n)) for i in sorted(converted)
               for n, action in enumerate(["schedule", "contact", "schedule", "message", "schedule"])]  # fmt: skip
    assert api(running_info, "POST", "/v1/events", {"events": events + planted}, key=key)[0] == 202
    conversions = [
        {"lead_id": i, "outcome": "converted" if i in converted else "lost", "at": outcome_at.isoformat()} for i in ids
    ]
    assert api(running_info, "POST", "/v1/conversions", {"conversions": conversions}, key=key)[0] == 201
    expected = {i: 7 if i in converted else 2 for i in ids}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
        logged(running_aws, running_info, tenant, i) < n for i, n in expected.items()
    ):
        time.sleep(0.5)
    assert {i: logged(running_aws, running_info, tenant, i) for i in ids} == expected

    # The running totals the events function keeps hold the planted signal...
    totals = running_aws("dynamodb").get_item(
        TableName=running_info["tables"]["AggregatesTable"],
        Key={"pk": {"S": f"{tenant}#{ids[0]}"}, "sk": {"S": "total"}},
    )["Item"]
    assert int(totals["schedules"]["N"]) == 3

    # ...the training set does not.
    policy = HistoryPolicy(min_labelled=len(ids), min_conversions=len(converted))
    dataset = builder(running_info, running_aws).build(tenant, now=datetime.now(UTC), policy=policy)
    rows = {row["id"]: row for row in dataset.table.to_pylist() if row["id"] in ids}
    assert {i: row[LABEL_COLUMN] for i, row in rows.items()} == {i: int(i in converted) for i in ids}
    behaviour = ("views", "inquiries", "messages", "schedules", "sessions", "minutes_to_first_contact",
                 "hours_since_last_activity")  # fmt: skip
    seen = {tuple(row[name] for name in behaviour) for row in rows.values()}
    assert len(seen) == 1, seen  # the same for converted and lost leads
    (values,) = seen

    def faded(at: datetime) -> float:  # one interaction at `at`, counted from its day's noon, 30-day half-life
        noon = at.replace(hour=12, minute=0, second=0)
        return float(0.5 ** (max(0.0, (outcome_at - noon).total_seconds() / 86400) / 30.0))

    view, inquiry = faded(created + timedelta(hours=1)), faded(created + timedelta(days=2))
    assert values == pytest.approx((view, inquiry, 0.0, 0.0, view + inquiry, None, 8 * 24.0)), values
    assert all(row["market_median_price"] is not None for row in rows.values())  # the demo's signals of that month

    with pytest.raises(InsufficientHistory, match="training needs at least 1000 and 120"):
        builder(running_info, running_aws).build(tenant, now=datetime.now(UTC), policy=HistoryPolicy())


def test_the_demo_tenants_history_trains_a_model_better_than_chance(
    running_info: dict[str, Any], running_aws: Callable[[str], Any], tmp_path: Path
) -> None:
    started = time.perf_counter()
    dataset = builder(running_info, running_aws).build(
        running_info["tenant_id"], now=datetime.now(UTC), policy=HistoryPolicy()
    )
    seconds = time.perf_counter() - started
    counts = dataset.counts
    print(f"demo dataset: {seconds:.1f} s, {counts}")  # the figures the closing note quotes (pytest -s)
    assert counts["labelled"] >= 1000
    assert counts["conversions"] >= 120
    assert counts["unlabelled"] > 0  # the recent leads without an outcome stay open
    assert counts["with_behaviour"] > 0.9 * counts["labelled"]
    digest = dataset.write_parquet(tmp_path / "demo.parquet")
    assert len(digest) == 64
    report = train(
        tmp_path / "demo.parquet", tmp_path / "model", TrainingOptions(label=LABEL_COLUMN, spec=default_spec())
    )
    print(f"demo model: {report.metrics}, rows {report.rows}")
    assert report.metrics["roc_auc"] > 0.6
