"""Shadow scoring's figures (grade agreement, Pearson, both AUCs or why not) and its isolation from production:
whatever the shadow does, the production score, its storage and its one event are unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from aiqleads.models import Interaction, Lead, Score
from aiqleads.registry.shadow import ShadowPair, ShadowScoring, compare, latest_converted
from aiqleads.scoring.metrics import roc_auc
from tests.fakes import MemoryEvents, memory_lead_service

LEAD: dict[str, Any] = {
    "id": "lead-1",
    "source": "zillow",
    "created_at": "2026-11-20T10:00:00Z",
    "contact": {"name": "Ana Diaz", "email": "ana@example.com"},
    "property": {"type": "single_family", "price": 425000, "beds": 3, "baths": 2, "sqft": 1800,
                 "lat": 36.17, "lon": -115.14, "market": "las-vegas"},
    "intent": "sell",
    "timeline": "0-3 months",
    "description": "Motivated seller, relocating",
}  # fmt: skip


def pair(lead_id: str, production: float, shadow: float, grades: tuple[str, str] = ("B", "B")) -> ShadowPair:
    return ShadowPair(lead_id, "3.0.0", shadow, grades[1], "2.0.0", production, grades[0])


def test_roc_auc_is_sklearns_with_ties() -> None:
    rng = np.random.default_rng(7)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.random(300) + labels * 0.3, 1)  # rounded: many ties
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))


def test_agreement_and_correlation_without_outcomes() -> None:
    pairs = [
        pair("a", 0.1, 0.2, ("D", "C")),
        pair("b", 0.3, 0.35),
        pair("c", 0.5, 0.4, ("A", "A")),
        pair("d", 0.7, 0.9, ("A", "A")),
    ]
    figures = compare(pairs, {"a": True})
    assert figures.count == 4
    assert figures.production_versions == ["2.0.0"]
    assert figures.grade_agreement == 0.75
    expected = np.corrcoef([0.1, 0.3, 0.5, 0.7], [0.2, 0.35, 0.4, 0.9])[0, 1]
    assert figures.score_correlation == pytest.approx(expected, abs=1e-6)
    assert (figures.outcomes, figures.production_roc_auc, figures.shadow_roc_auc) == (1, None, None)
    assert figures.note == "not enough outcomes: 1 of the 20 needed"


def test_both_aucs_once_there_are_enough_outcomes() -> None:
    rng = np.random.default_rng(3)
    production, shadow = rng.random(40), rng.random(40)
    labels = rng.random(40) < 0.4
    pairs = [pair(f"l{i}", float(production[i]), float(shadow[i])) for i in range(40)]
    # Only the first 30 have outcomes: the AUCs are over those leads alone.
    converted = {f"l{i}": bool(labels[i]) for i in range(30)}
    figures = compare(pairs, converted)
    assert (figures.outcomes, figures.note) == (30, None)
    assert figures.production_roc_auc == pytest.approx(roc_auc_score(labels[:30], production[:30]), abs=1e-6)
    assert figures.shadow_roc_auc == pytest.approx(roc_auc_score(labels[:30], shadow[:30]), abs=1e-6)


def test_one_class_outcomes_give_no_auc_and_say_why() -> None:
    pairs = [pair(f"l{i}", i / 30, i / 30) for i in range(25)]
    figures = compare(pairs, {f"l{i}": False for i in range(25)})
    assert figures.production_roc_auc is None
    assert "one class" in str(figures.note)


def test_a_single_pair_has_no_correlation() -> None:
    assert compare([pair("a", 0.2, 0.3)], {}).score_correlation is None
    assert compare([], {}).grade_agreement is None


@dataclass(frozen=True)
class Reported:
    lead_id: str
    outcome: str
    at: datetime
    recorded_at: datetime


def test_the_latest_outcome_of_a_lead_counts() -> None:
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    reports = [
        Reported("a", "converted", late, late),
        Reported("a", "lost", early, late),
        Reported("b", "lost", early, early),
    ]
    assert latest_converted(reports) == {"a": True, "b": False}


# ------------------------------------------------------------------------------------------------ isolation
@dataclass
class MemoryPairs:
    stored: list[tuple[str, ShadowPair]] = field(default_factory=list)
    fails: bool = False

    def put(self, tenant_id: str, pair: ShadowPair) -> None:
        if self.fails:
            raise RuntimeError("throttled")
        self.stored.append((tenant_id, pair))


class ShadowModel:
    """The shipped model's scores under another version (or an error, for a broken shadow)."""

    def __init__(self, fails: bool = False):
        from aiqleads.composition import default_scorer

        self.inner, self.fails, self.model_version = default_scorer(), fails, "3.0.0"

    def score_lead(self, lead: Lead, signals: Any = None) -> Score:
        if self.fails:
            raise RuntimeError("the shadow's session failed")
        score = self.inner.score_lead(lead, signals)
        return score.model_copy(update={"model_version": self.model_version, "probability": score.probability / 2})


def shadowed(resolve: Any, store: MemoryPairs) -> tuple[Any, ShadowScoring]:
    service = memory_lead_service()
    service.shadow = ShadowScoring(resolve, store)
    return service, service.shadow


def test_ingest_stores_the_shadow_pair_and_returns_and_announces_production_only() -> None:
    store = MemoryPairs()
    service, _ = shadowed(lambda tenant: ShadowModel(), store)
    score = service.ingest("demo", Lead.model_validate(LEAD))
    assert score.model_version == "2.0.0"
    [(tenant, stored)] = store.stored
    assert (tenant, stored.lead_id, stored.shadow_version, stored.production_version) == (
        "demo",
        LEAD["id"],
        "3.0.0",
        "2.0.0",
    )
    assert stored.production_probability == score.probability
    assert stored.shadow_probability == pytest.approx(score.probability / 2)
    events = service.leads.outbox
    assert isinstance(events, MemoryEvents)
    assert [(e.type, e.data["model_version"]) for e in events.published] == [("lead.scored", "2.0.0")]


def test_the_events_re_score_is_shadowed_too() -> None:
    store = MemoryPairs()
    service, _ = shadowed(lambda tenant: ShadowModel(), store)
    service.ingest("demo", Lead.model_validate(LEAD))
    at = datetime.now(UTC)
    service.apply_interaction(
        "demo", Interaction(lead_id=LEAD["id"], actor="buyer-1", action="inquiry", timestamp=at), "evt-1"
    )
    assert [p.lead_id for _, p in store.stored] == [LEAD["id"], LEAD["id"]]


def boom(tenant: str) -> Any:
    raise RuntimeError("registry unreachable")


@pytest.mark.parametrize(
    ("resolve", "store"),
    [
        (boom, MemoryPairs()),
        (lambda t: ShadowModel(fails=True), MemoryPairs()),
        (lambda t: ShadowModel(), MemoryPairs(fails=True)),
    ],
    ids=["resolving", "scoring", "storing"],
)
def test_a_failing_shadow_is_counted_and_never_fails_the_score(resolve: Any, store: MemoryPairs) -> None:
    service, shadow = shadowed(resolve, store)
    score = service.ingest("demo", Lead.model_validate(LEAD))
    assert score.model_version == "2.0.0"
    assert service.get("demo", LEAD["id"]).score == score
    assert shadow.failures == 1
    assert store.stored == []


def test_no_shadow_or_the_production_version_itself_stores_nothing() -> None:
    from aiqleads.composition import default_scorer

    for resolve in (lambda t: None, lambda t: default_scorer()):
        store = MemoryPairs()
        service, shadow = shadowed(resolve, store)
        service.ingest("demo", Lead.model_validate(LEAD))
        assert (store.stored, shadow.failures) == ([], 0)


def test_bulk_pairs_from_columns_are_the_real_time_writers_items() -> None:
    """`shadow_requests` (bulk, a column at a time) gives the items `ShadowScoreWriter.put` writes one by one."""
    import json

    import pyarrow as pa

    from aiqleads.composition import default_scorer
    from aiqleads.scoring.artifact import load_artifact
    from aiqleads.scoring.batch import score_table
    from aiqleads.scoring.scorer import Scorer
    from aiqleads.storage.shadow import ShadowScoreWriter, shadow_requests
    from aiqleads_offline.generate import generate_table

    production, shadow = default_scorer(), Scorer(load_artifact(), {"A": 0.5, "B": 0.2, "C": 0.1})
    table = generate_table(300, 5, invalid_rate=0.0)
    rows = table.to_pylist()
    rows[7]["id"] = rows[3]["id"]  # a repeated id: its last row's pair, once
    batch = pa.Table.from_pylist(rows).cast(pa.schema([(name, pa.string()) for name in rows[0]]))
    scored = score_table(production, batch)
    theirs = shadow.score_batch(scored.validated)
    moment = datetime(2026, 12, 1, 12, tzinfo=UTC)
    built = [json.loads(r)["PutRequest"]["Item"] for r in shadow_requests("acme", scored.columns["id"], theirs,
                                                                           scored.scores, moment)]  # fmt: skip

    captured: dict[str, dict[str, Any]] = {}

    class Client:
        def put_item(self, TableName: str, Item: dict[str, Any]) -> None:  # noqa: N803 (boto3's names)
            captured[Item["sk"]["S"]] = Item

    writer = ShadowScoreWriter("LeadsTable", Client())
    import aiqleads.storage.shadow as module

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return moment

    original, module.datetime = module.datetime, Frozen  # type: ignore[misc]
    try:
        for row, lead_id in enumerate(scored.columns["id"].to_pylist()):
            writer.put("acme", ShadowPair(lead_id, theirs.model_version, float(theirs.probability[row]),
                                          str(theirs.grade[row]), scored.scores.model_version,
                                          float(scored.scores.probability[row]), str(scored.scores.grade[row])))  # fmt: skip
    finally:
        module.datetime = original  # type: ignore[misc]
    assert len(built) == len(captured) == 299
    assert {item["sk"]["S"]: item for item in built} == captured
