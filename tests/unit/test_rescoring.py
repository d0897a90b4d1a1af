"""Rescoring after a promotion, on fakes: the registry submits a job when production moves; the job rescores only
the open leads (no outcome, inside the label window) through the batch path with each lead's behaviour and market
inputs, announces only grade moves up to its cap, sums up in one `model.rescored`, does nothing on a redelivered
message and resumes a crashed run from its checkpoint."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aiqleads.composition import default_scorer
from aiqleads.features.behaviour import BehaviourTotals
from aiqleads.features.market import market_signals
from aiqleads.models import Lead, MarketSnapshot
from aiqleads.registry.label_window import LABEL_WINDOW_DAYS
from aiqleads.registry.records import AliasTarget
from aiqleads.registry.service import ModelRegistry
from aiqleads.rescoring.columns import lead_table
from aiqleads.rescoring.jobs import JOB_KIND, RescoreJob, RescoreJobs, job_view
from aiqleads.rescoring.runner import RescoreOptions, Rescorer
from aiqleads.scoring.artifact import load_artifact
from aiqleads.scoring.batch import score_table
from aiqleads.scoring.scorer import Scorer
from aiqleads.storage.jobs import StoredJob
from aiqleads.storage.open_leads import StoredLead
from tests.fakes import MemoryEvents
from tests.registry_fakes import MemoryBlobs, MemoryRegistryStore, shipped_files

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
TENANT = "demo"
NEW = AliasTarget(tenant=TENANT, version="3.0.0")
LOTS = 10**9  # milliseconds left: plenty


class LeasedJobs:
    """JobsTable's lease protocol in memory: writes need the lease; an unexpired lease of another owner blocks."""

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], StoredJob] = {}
        self.now = 1.0  # epoch seconds; a released lease (0) is free

    def get(self, tenant_id: str, job_id: str) -> StoredJob | None:
        return self.jobs.get((tenant_id, job_id))

    def create(self, tenant_id: str, job_id: str, record: dict[str, Any], expires_at: int) -> bool:
        if (tenant_id, job_id) in self.jobs:
            return False
        self.jobs[tenant_id, job_id] = StoredJob(tenant_id, job_id, "running", json.loads(json.dumps(record)))
        return True

    def acquire(self, tenant_id: str, job_id: str, owner: str, lease_seconds: float) -> StoredJob | None:
        job = self.jobs.get((tenant_id, job_id))
        if job is None or job.status != "running" or (job.lease_until >= self.now and job.owner not in (None, owner)):
            return None
        self.jobs[tenant_id, job_id] = replace(job, owner=owner, lease_until=self.now + lease_seconds)
        return self.jobs[tenant_id, job_id]

    def save(self, tenant_id: str, job_id: str, owner: str, record: dict[str, Any], *, status: str = "running",
             release: bool = False, expires_at: int | None = None) -> None:  # fmt: skip
        job = self.jobs[tenant_id, job_id]
        assert job.owner == owner, "written without the lease"
        self.jobs[tenant_id, job_id] = replace(job, status=status, record=json.loads(json.dumps(record)),
                                               lease_until=0.0 if release else job.lease_until)  # fmt: skip

    def release(self, tenant_id: str, job_id: str, owner: str) -> None:
        job = self.jobs[tenant_id, job_id]
        if job.owner == owner:
            self.jobs[tenant_id, job_id] = replace(job, lease_until=0.0)


@dataclass
class Store:
    """The tenant's leads as OpenLeadReader pages them (oldest first), with the outcomes recorded."""

    leads: list[tuple[datetime, StoredLead]]
    outcomes: set[str] = field(default_factory=set)

    def _window(self, since: datetime) -> list[StoredLead]:
        return [lead for created, lead in sorted(self.leads, key=lambda p: p[0]) if created >= since]

    def count(self, tenant_id: str, since: datetime) -> int:
        return len(self._window(since))

    def decided(self, tenant_id: str) -> set[str]:
        return set(self.outcomes)

    def page(
        self, tenant_id: str, since: datetime, limit: int, after: dict[str, str] | None = None
    ) -> tuple[list[StoredLead], dict[str, str] | None]:
        window = self._window(since)
        start = int(after["i"]) if after else 0
        end = start + limit
        return window[start:end], ({"i": str(end)} if end < len(window) else None)


@dataclass
class Writer:
    written: list[dict[str, Any]] = field(default_factory=list)  # score items
    history: list[dict[str, Any]] = field(default_factory=list)  # their history items
    fail_on_call: int | None = None
    calls: int = 0

    def write_requests(self, requests: Sequence[str]) -> int:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise ConnectionError("the invocation died here")
        items = [json.loads(r)["PutRequest"]["Item"] for r in requests]
        self.written += [item for item in items if item["sk"]["S"] == "score"]
        self.history += [item for item in items if item["sk"]["S"].startswith("history#")]
        # A score item and its history item go in the same call.
        assert [i["pk"] for i in items if i["sk"]["S"] == "score"] == [
            i["pk"] for i in items if i["sk"]["S"] != "score"
        ]
        return len(requests)


@dataclass
class Totals:
    totals: dict[str, BehaviourTotals]

    def get_many(self, tenant_id: str, lead_ids: Sequence[str]) -> dict[str, BehaviourTotals]:
        return {i: self.totals[i] for i in lead_ids if i in self.totals}


SNAPSHOT = MarketSnapshot(market="las-vegas", period="2026-11", median_price=410_000, inventory=120,
                          days_on_market=31, price_trend=0.02, inquiries=300)  # fmt: skip


class Markets:
    def latest(self, tenant_id: str, market: str) -> MarketSnapshot | None:
        return SNAPSHOT if market == "las-vegas" else None


@dataclass
class Models:
    """The resolver as the job sees it: what production names now, and the new version's scorer (the shipped
    model with stricter grade cuts, so grades move)."""

    target: AliasTarget = field(default_factory=lambda: NEW)
    scorer: Scorer = field(default_factory=lambda: Scorer(load_artifact(), {"A": 0.5, "B": 0.2, "C": 0.1}))

    def production(self, tenant_id: str) -> AliasTarget | None:
        return self.target

    def version(self, target: AliasTarget) -> Scorer:
        assert target == NEW
        return self.scorer


class Queue:
    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], int]] = []

    def send(self, body: dict[str, Any], delay_seconds: int = 0, attributes: dict[str, str] | None = None) -> str:
        self.sent.append((body, delay_seconds))
        return "m"

    def send_many(self, bodies: Sequence[dict[str, Any]]) -> None:
        self.sent += [(body, 0) for body in bodies]


def make_leads(count: int) -> tuple[list[tuple[datetime, StoredLead]], dict[str, BehaviourTotals], list[Lead]]:
    """Varied leads scored (and graded) by the shipped model, as they are stored before the promotion."""
    scorer = default_scorer()
    stored, totals, leads = [], {}, []
    for i in range(count):
        created = NOW - timedelta(days=i % 80, hours=i)
        lead = Lead.model_validate({
            "id": f"l-{i:03d}", "source": ["zillow", "fsbo", "referral"][i % 3], "created_at": created,
            "contact": {"name": "Ana Diaz", "email": f"ana{i}@example.com", "phone": "+1 702 555 0100"},
            "property": {"type": "condo", "price": 150_000 + 9_000 * i, "beds": 1 + i % 4, "sqft": 700 + 40 * i,
                         "market": "las-vegas" if i % 2 else "austin"},
            "intent": "sell" if i % 2 else "buy", "timeline": ["asap", "0-3 months", "unknown"][i % 3],
        })  # fmt: skip
        signals = market_signals(SNAPSHOT) if lead.property.market == "las-vegas" else {}
        if i % 4 == 0:
            totals[lead.id] = BehaviourTotals(views=i % 7, clicks=i % 3, sessions=1, interactions=i % 7 + i % 3,
                                              last_activity_at=NOW - timedelta(hours=i))  # fmt: skip
            signals |= totals[lead.id].signals(lead.created_at, NOW, half_life_days=30.0)
        score = scorer.score_lead(lead, signals)
        leads.append(lead)
        stored.append((created, StoredLead(lead.id, lead.model_dump_json(exclude_none=True), lead.property.market,
                                           score.grade.value, score.score, score.model_version,
                                           "2026-11-29T00:00:00Z" if i == 3 else None,
                                           matrix_grade=score.matrix_grade)))  # fmt: skip
    return stored, totals, leads


def submitted(jobs: LeasedJobs, queue: Queue) -> str:
    return RescoreJobs(jobs, queue, delay_seconds=60, clock=NOW.timestamp)(
        TENANT, AliasTarget(tenant=None, version="2.0.0"), NEW
    )


def rescorer(jobs: LeasedJobs, store: Store, totals: dict[str, BehaviourTotals], writer: Writer, events: MemoryEvents,
             queue: Queue, models: Models | None = None, now: datetime = NOW, **options: Any) -> Rescorer:  # fmt: skip
    return Rescorer(jobs, store, Totals(totals), Markets(), writer, events, queue, models or Models(),
                    RescoreOptions(**options), clock=lambda: now)  # fmt: skip


def expected_grades(leads: list[Lead], totals: dict[str, BehaviourTotals], scorer: Scorer) -> dict[str, str]:
    """What real-time re-scoring (LeadService's inputs, one lead at a time) gives each lead with the new model."""
    grades = {}
    for lead in leads:
        signals = market_signals(SNAPSHOT) if lead.property.market == "las-vegas" else {}
        if lead.id in totals:
            signals |= totals[lead.id].signals(lead.created_at, NOW, half_life_days=30.0)
        grades[lead.id] = scorer.score_lead(lead, signals).grade.value
    return grades


def test_the_job_rescores_open_leads_announces_grade_moves_up_to_the_cap_and_sums_up() -> None:
    stored, totals, leads = make_leads(60)
    old = NOW - timedelta(days=LABEL_WINDOW_DAYS + 1)
    stale = Lead.model_validate({**json.loads(stored[0][1].lead_json), "id": "old-1", "created_at": old})
    stored.append((old, replace(stored[0][1], lead_id="old-1", lead_json=stale.model_dump_json())))
    store = Store(stored, outcomes={"l-001", "l-002", "l-010"})
    jobs, queue, writer, events = LeasedJobs(), Queue(), Writer(), MemoryEvents()
    job_id = submitted(jobs, queue)
    assert queue.sent == [({"type": "rescore", "tenant_id": TENANT, "job_id": job_id}, 60)]
    view = job_view(jobs.jobs[TENANT, job_id])
    assert (view.kind, view.status) == (JOB_KIND, "queued")

    outcome = rescorer(jobs, store, totals, writer, events, queue, event_cap=5, page_rows=7).handle(
        TENANT, job_id, lambda: LOTS
    )
    assert outcome == "completed"
    open_ids = {lead.id for lead in leads} - store.outcomes
    assert {item["lead_id"]["S"] for item in writer.written} == open_ids  # neither decided nor too old
    assert len(writer.written) == len(open_ids)
    assert {item["model_version"]["S"] for item in writer.written} == {"2.0.0"}  # the shipped files' version
    by_id = {item["lead_id"]["S"]: item for item in writer.written}
    assert by_id["l-003"]["sold_exclusive_at"] == {"S": "2026-11-29T00:00:00Z"}  # the sale mark stays
    assert "sold_exclusive_at" not in by_id["l-005"]
    for item in writer.written:  # the ScoreIndex keys move with the score
        assert item["gsi1sk"]["S"] == f"{int(item['score']['N']):03d}#{item['lead_id']['S']}"
    # Each score's history item: cause promotion, dated by the job's start, keyed by the job, no index attributes.
    assert sorted(i["lead_id"]["S"] for i in writer.history) == sorted(open_ids)
    for item in writer.history:
        assert item["cause"] == {"S": "promotion"}
        assert item["score"] == by_id[item["lead_id"]["S"]]["score"]
        assert item["sk"]["S"].startswith("history#" + NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "#")
        assert not {name for name in item if name.startswith("gsi")}
        assert "recent_scores" in by_id[item["lead_id"]["S"]]

    # Grades as real-time scoring gives them, and only the moves announced, no more than the cap.
    new = expected_grades(leads, totals, Models().scorer)
    assert {i: by_id[i]["grade"]["S"] for i in open_ids} == {i: new[i] for i in open_ids}
    before = {lead.lead_id: lead.grade for _, lead in stored}
    moved = {i for i in open_ids if new[i] != before[i]}
    assert len(moved) > 5
    changed = [e for e in events.published if e.type == "lead.score_changed"]
    assert len(changed) == 5
    for event in changed:
        assert event.data["lead_id"] in moved
        assert event.data["previous"]["grade"] == before[event.data["lead_id"]] != event.data["grade"]
        assert event.data["trigger"] == {"action": "model.promoted", "job_id": job_id, "previous_version": "2.0.0"}
    (summary,) = [e for e in events.published if e.type == "model.rescored"]
    assert summary.id == f"evt_{job_id}"
    assert {k: summary.data[k] for k in ("previous_version", "version", "leads_rescored", "grades_moved",
                                         "events_published", "events_suppressed", "leads_with_outcome")} == {
        "previous_version": "2.0.0", "version": "3.0.0", "leads_rescored": len(open_ids),
        "grades_moved": len(moved), "events_published": 5, "events_suppressed": len(moved) - 5,
        "leads_with_outcome": 3,
    }  # fmt: skip
    view = job_view(jobs.jobs[TENANT, job_id])
    assert (view.status, view.progress.done, view.progress.total, view.progress.percent) == ("completed", 60, 60, 100)

    # A redelivered message: nothing rescored or announced again.
    again = rescorer(jobs, store, totals, writer, events, queue).handle(TENANT, job_id, lambda: LOTS)
    assert again == "already completed"
    assert len(writer.written) == len(open_ids)
    assert len(events.published) == 6


def test_a_job_held_by_a_live_worker_is_left_alone() -> None:
    stored, totals, _ = make_leads(5)
    jobs, queue, writer = LeasedJobs(), Queue(), Writer()
    job_id = submitted(jobs, queue)
    assert jobs.acquire(TENANT, job_id, "someone-else", 900) is not None
    assert (
        rescorer(jobs, Store(stored), totals, writer, MemoryEvents(), queue).handle(TENANT, job_id, lambda: LOTS)
        == "busy"
    )
    assert writer.written == []


def test_a_crashed_run_is_taken_over_from_its_checkpoint_and_a_slice_ends_with_a_continuation() -> None:
    stored, totals, leads = make_leads(50)
    store = Store(stored)
    jobs, queue, events = LeasedJobs(), Queue(), MemoryEvents()
    job_id = submitted(jobs, queue)
    queue.sent.clear()

    # Dies writing the third page (pages of 10): the first two are checkpointed.
    crashing = Writer(fail_on_call=3)
    with pytest.raises(ConnectionError):
        rescorer(jobs, store, totals, crashing, events, queue, page_rows=10, event_cap=1000).handle(
            TENANT, job_id, lambda: LOTS
        )
    assert len(crashing.written) == 20
    record = RescoreJob.model_validate(jobs.jobs[TENANT, job_id].record)
    assert (record.checkpoint.examined, record.checkpoint.after) == (20, {"i": "20"})
    announced = len(events.published)

    # The next invocation resumes there, and runs out of time after one more page: a continuation.
    left = iter([LOTS, 1])  # the lease, then the check before the second page
    writer = Writer()
    runner = rescorer(jobs, store, totals, writer, events, queue, page_rows=10, event_cap=1000, time_margin_s=1)
    assert runner.handle(TENANT, job_id, lambda: next(left, 1)) == "checkpointed"
    window = store.page(TENANT, NOW - timedelta(days=LABEL_WINDOW_DAYS), 10, {"i": "20"})[0]
    assert [item["lead_id"]["S"] for item in writer.written] == [lead.lead_id for lead in window]
    assert queue.sent == [({"type": "rescore", "tenant_id": TENANT, "job_id": job_id}, 0)]
    assert runner.handle(TENANT, job_id, lambda: LOTS) == "completed"

    ids = [item["lead_id"]["S"] for item in crashing.written + writer.written]
    assert sorted(ids) == sorted(lead.id for lead in leads)  # each lead exactly once
    (summary,) = [e for e in events.published if e.type == "model.rescored"]
    assert summary.data["leads_rescored"] == 50
    assert summary.data["events_published"] == len(events.published) - 1 >= announced
    assert RescoreJob.model_validate(jobs.jobs[TENANT, job_id].record).checkpoint.invocations == 3


def test_a_job_overtaken_by_a_newer_promotion_stops() -> None:
    stored, totals, _ = make_leads(5)
    jobs, queue, writer, events = LeasedJobs(), Queue(), Writer(), MemoryEvents()
    job_id = submitted(jobs, queue)
    models = Models(target=AliasTarget(tenant=TENANT, version="4.0.0"))
    assert (
        rescorer(jobs, Store(stored), totals, writer, events, queue, models).handle(TENANT, job_id, lambda: LOTS)
        == "superseded"
    )
    assert writer.written == []
    assert [(e.type, e.data["superseded"]) for e in events.published] == [("model.rescored", True)]
    assert jobs.jobs[TENANT, job_id].status == "completed"


def test_stored_leads_become_the_batch_paths_input_and_score_as_in_real_time() -> None:
    _, totals, leads = make_leads(30)
    signals = [market_signals(SNAPSHOT) if lead.property.market == "las-vegas" else None for lead in leads]
    table = lead_table([lead.model_dump_json(exclude_none=True) for lead in leads],
                       [totals.get(lead.id) for lead in leads], signals, NOW, 30.0)  # fmt: skip
    scorer = default_scorer()
    scored = score_table(scorer, table)
    assert scored.scored == len(leads)
    for row, lead in enumerate(leads):
        values = dict(signals[row] or {})
        if lead.id in totals:
            values |= totals[lead.id].signals(lead.created_at, NOW, half_life_days=30.0)
        assert scored.scores.probability[row] == pytest.approx(scorer.score_lead(lead, values).probability, abs=1e-9)


def test_a_production_move_submits_a_rescoring_job_and_names_it() -> None:
    jobs, queue, events = LeasedJobs(), Queue(), MemoryEvents()
    hook = RescoreJobs(jobs, queue, delay_seconds=0.5, clock=NOW.timestamp)
    registry = ModelRegistry(MemoryRegistryStore(), MemoryBlobs(), events, on_production_change=hook)
    from aiqleads.scoring.artifact import default_model_dir

    registry.ensure_global_default(default_model_dir())
    registry.register(TENANT, shipped_files(), version="3.0.0")

    assert registry.set_alias(TENANT, "shadow", "3.0.0").rescore_job_id is None  # a shadow scores nothing stored
    change = registry.set_alias(TENANT, "production", "3.0.0")
    assert change.rescore_job_id is not None
    job = RescoreJob.model_validate(jobs.jobs[TENANT, change.rescore_job_id].record)
    assert (job.previous_version, job.version, job.target) == ("2.0.0", "3.0.0", NEW)
    assert job.since == NOW - timedelta(days=LABEL_WINDOW_DAYS)
    assert queue.sent[-1] == ({"type": "rescore", "tenant_id": TENANT, "job_id": change.rescore_job_id}, 1)
    promoted = [e for e in events.published if e.type == "model.promoted"]
    assert promoted[-1].data["rescore_job_id"] == change.rescore_job_id

    back = registry.rollback(TENANT)  # back to the global default: rescored with it
    assert back.rescore_job_id not in (None, change.rescore_job_id)
    assert jobs.jobs[TENANT, back.rescore_job_id].record["target"] == {"tenant": None, "version": "2.0.0"}
    assert registry.set_alias(TENANT, "production", "2.0.0").rescore_job_id is None  # nothing moved

    def broken(tenant: str, previous: AliasTarget | None, target: AliasTarget) -> str | None:
        raise ConnectionError("queue unreachable")

    registry.on_production_change = broken  # the promotion stands; its answer says nothing was submitted
    assert registry.set_alias(TENANT, "production", "3.0.0").rescore_job_id is None


def test_webhooks_may_subscribe_to_the_summary() -> None:
    from aiqleads.webhooks.models import WebhookCreate

    hook = WebhookCreate(url="https://crm.example.com/hooks", event_types=["model.rescored", "model.promoted"])
    assert hook.event_types == ["model.rescored", "model.promoted"]


def test_a_lapsed_lease_of_a_dead_invocation_is_taken_over_from_its_checkpoint() -> None:
    """A hard stop (timeout, out of memory) releases nothing: the job waits for its lease to lapse, then resumes."""
    stored, totals, leads = make_leads(30)
    store = Store(stored)
    jobs, queue, events = LeasedJobs(), Queue(), MemoryEvents()
    job_id = submitted(jobs, queue)
    first = Writer()
    left = iter([LOTS, 1])
    runner = rescorer(jobs, store, totals, first, events, queue, page_rows=10, time_margin_s=1)
    assert runner.handle(TENANT, job_id, lambda: next(left, 1)) == "checkpointed"
    assert jobs.acquire(TENANT, job_id, "dead-invocation", 900) is not None  # took it, then died
    later = Writer()
    assert rescorer(jobs, store, totals, later, events, queue).handle(TENANT, job_id, lambda: LOTS) == "busy"
    jobs.now += 901  # the lease lapses
    assert rescorer(jobs, store, totals, later, events, queue).handle(TENANT, job_id, lambda: LOTS) == "completed"
    ids = [item["lead_id"]["S"] for item in first.written + later.written]
    assert sorted(ids) == sorted(lead.id for lead in leads)


def test_training_and_rescoring_share_one_label_window() -> None:
    from aiqleads.settings import ApiSettings, TrainingSettings
    from aiqleads.training.dataset import HistoryPolicy

    assert HistoryPolicy().label_window_days == LABEL_WINDOW_DAYS == RescoreJobs(LeasedJobs(), Queue()).window_days
    for model in (ApiSettings, TrainingSettings):
        assert model.model_fields["label_window_days"].default == LABEL_WINDOW_DAYS
