"""The scheduled rescoring, on fakes: the schedule queues one `rescore` job per tenant with open leads and a model
(cause `rescoring`, its id from the event's time), a redelivered event starts nothing twice, a tenant whose previous
scheduled job still runs is skipped, and the job writes and announces only the leads whose grade moved, with the
counts in its record and in `model.rescored`; a promotion's job still writes every lead."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aiqleads.composition import default_scorer
from aiqleads.errors import NotFound
from aiqleads.features.market import market_signals
from aiqleads.registry.label_window import LABEL_WINDOW_DAYS
from aiqleads.registry.records import AliasTarget
from aiqleads.rescoring.columns import lead_table
from aiqleads.rescoring.jobs import RescoreJob, job_view, rescore_message
from aiqleads.rescoring.runner import grade_moved
from aiqleads.rescoring.schedule import (
    SCHEDULE_RECORD_ID,
    STALE_AFTER_SECONDS,
    ScheduledRescores,
    not_a_job,
    scheduled_job_id,
    scheduled_time,
)
from aiqleads.scoring.batch import score_table
from tests.fakes import MemoryEvents
from tests.unit.test_rescoring import (
    LOTS,
    NEW,
    NOW,
    SNAPSHOT,
    TENANT,
    LeasedJobs,
    Models,
    Queue,
    Store,
    Writer,
    expected_grades,
    make_leads,
    rescorer,
    submitted,
)

AT = datetime(2026, 12, 1, 18, 0, 3, tzinfo=UTC)  # the schedule event's time
EVENT = {"version": "0", "id": "e-1", "detail-type": "Scheduled Event", "source": "aws.events",
         "time": "2026-12-01T18:00:03Z", "resources": ["arn:aws:events:us-east-1:1:rule/r"], "detail": {}}  # fmt: skip


@dataclass
class Window:
    """OpenLeadReader.any_since over the tenants that have leads (and the calls made)."""

    with_leads: set[str]
    calls: list[tuple[str, datetime]] = field(default_factory=list)

    def any_since(self, tenant_id: str, since: datetime) -> bool:
        self.calls.append((tenant_id, since))
        return tenant_id in self.with_leads


@dataclass
class Production:
    targets: dict[str, AliasTarget]

    def production(self, tenant_id: str) -> AliasTarget | None:
        return self.targets.get(tenant_id)


def schedule(
    jobs: LeasedJobs, queue: Queue, window: Window | None = None, now: float | None = None
) -> ScheduledRescores:
    targets = {TENANT: NEW, "quiet": AliasTarget(tenant=None, version="2.0.0")}  # "unmodelled" has none
    return ScheduledRescores(jobs, queue, window or Window({TENANT, "unmodelled"}), Production(targets),
                             clock=lambda: AT.timestamp() if now is None else now)  # fmt: skip


def test_the_schedule_event_names_the_job() -> None:
    assert scheduled_time(EVENT) == AT
    assert scheduled_time({"Records": []}) is None
    assert scheduled_job_id(AT) == "rescore-scheduled-20261201T180003Z"
    with pytest.raises(ValueError, match="valid time"):
        scheduled_time({**EVENT, "time": "soon"})


def test_one_job_per_tenant_with_open_leads_and_a_model() -> None:
    jobs, queue, window = LeasedJobs(), Queue(), Window({TENANT, "unmodelled"})
    result = schedule(jobs, queue, window).run([TENANT, "quiet", "unmodelled"], AT)
    job_id = scheduled_job_id(AT)
    assert result == {"job_id": job_id, "queued": 1,
                      "tenants": {TENANT: "queued", "quiet": "no open leads", "unmodelled": "no model"}}  # fmt: skip
    assert queue.sent == [(rescore_message(TENANT, job_id), 0)]
    assert window.calls == [(TENANT, AT - timedelta(days=LABEL_WINDOW_DAYS)), ("quiet", AT - timedelta(days=90))]
    job = RescoreJob.model_validate(jobs.jobs[TENANT, job_id].record)
    assert (job.cause, job.previous_version, job.version, job.target) == ("rescoring", NEW.version, NEW.version, NEW)
    assert job.since == AT - timedelta(days=LABEL_WINDOW_DAYS)
    assert job_view(jobs.jobs[TENANT, job_id]).status == "queued"
    assert jobs.jobs[TENANT, SCHEDULE_RECORD_ID].record == {"kind": "rescore_schedule", "job_id": job_id}
    assert jobs.jobs[TENANT, SCHEDULE_RECORD_ID].lease_until == 0  # released
    with pytest.raises(NotFound):  # GET /v1/jobs/rescore-schedule
        not_a_job(jobs.jobs[TENANT, SCHEDULE_RECORD_ID])
    assert ("quiet", scheduled_job_id(AT)) not in jobs.jobs  # nothing to rescore: no job at all


def test_a_redelivered_event_starts_nothing_twice() -> None:
    stored, totals, _ = make_leads(12)
    jobs, queue = LeasedJobs(), Queue()
    assert schedule(jobs, queue).submit(TENANT, AT) == "queued"
    job_id = scheduled_job_id(AT)
    # Redelivered before the job started: the same job, its message sent again (harmless: the job's lease).
    assert schedule(jobs, queue).submit(TENANT, AT) == "already queued"
    assert [body for body, _ in queue.sent] == [rescore_message(TENANT, job_id)] * 2
    runner = rescorer(jobs, Store(stored), totals, Writer(), MemoryEvents(), queue)
    assert runner.handle(TENANT, job_id, lambda: LOTS) == "completed"
    assert runner.handle(TENANT, job_id, lambda: LOTS) == "already completed"  # the duplicate message
    # Redelivered after it ran: nothing queued, nothing run.
    assert schedule(jobs, queue).submit(TENANT, AT) == "already queued"
    assert len(queue.sent) == 2


def test_a_tenant_whose_scheduled_job_still_runs_is_skipped_until_it_ends() -> None:
    stored, totals, _ = make_leads(12)
    jobs, queue = LeasedJobs(), Queue()
    first = scheduled_job_id(AT)
    assert schedule(jobs, queue).submit(TENANT, AT) == "queued"
    later = AT + timedelta(hours=6)
    assert schedule(jobs, queue, now=later.timestamp()).submit(TENANT, later) == "busy"  # still queued
    assert (TENANT, scheduled_job_id(later)) not in jobs.jobs
    assert rescorer(jobs, Store(stored), totals, Writer(), MemoryEvents(), queue).handle(TENANT, first,
                                                                                        lambda: LOTS) == "completed"  # fmt: skip
    assert schedule(jobs, queue, now=later.timestamp()).submit(TENANT, later) == "queued"
    assert jobs.jobs[TENANT, SCHEDULE_RECORD_ID].record["job_id"] == scheduled_job_id(later)

    # A job "running" for longer than a day has died: the next slot does not wait for it.
    stuck = later + timedelta(seconds=STALE_AFTER_SECONDS + 1)
    assert schedule(jobs, queue, now=stuck.timestamp()).submit(TENANT, stuck) == "queued"


def test_two_invocations_of_the_schedule_cannot_both_start_a_job() -> None:
    jobs, queue = LeasedJobs(), Queue()
    jobs.create(TENANT, SCHEDULE_RECORD_ID, {"kind": "rescore_schedule", "job_id": None}, 0)
    assert jobs.acquire(TENANT, SCHEDULE_RECORD_ID, "another-invocation", 60) is not None
    assert schedule(jobs, queue).submit(TENANT, AT) == "busy"
    assert queue.sent == []


def test_grade_moved_compares_the_stored_grade_with_the_new_one() -> None:
    stored, totals, _ = make_leads(6)
    leads = [lead for _, lead in stored]
    signals = [market_signals(SNAPSHOT) if lead.market == "las-vegas" else None for lead in leads]
    half_life = default_scorer().spec.half_life_days
    table = lead_table([lead.lead_json for lead in leads], [totals.get(lead.lead_id) for lead in leads], signals,
                       NOW, half_life)  # fmt: skip
    scores = score_table(default_scorer(), table).scores  # the model they were stored with: the same grades
    assert [grade_moved(lead, scores, row) for row, lead in enumerate(leads)] == [False] * 6
    stricter = score_table(Models().scorer, table).scores
    assert [grade_moved(lead, stricter, row) for row, lead in enumerate(leads)] == [
        lead.grade != stricter.grade[row] for row, lead in enumerate(leads)
    ]
    assert grade_moved(replace(leads[0], grade=None), scores, 0)  # never scored: moved


def run_scheduled(count: int, cap: int = 1000) -> tuple[Any, ...]:
    stored, totals, leads = make_leads(count)
    store = Store(stored, outcomes={"l-001"})
    jobs, queue, writer, events = LeasedJobs(), Queue(), Writer(), MemoryEvents()
    assert schedule(jobs, queue).submit(TENANT, NOW) == "queued"
    job_id = scheduled_job_id(NOW)
    outcome = rescorer(jobs, store, totals, writer, events, queue, event_cap=cap, page_rows=7).handle(
        TENANT, job_id, lambda: LOTS
    )
    assert outcome == "completed"
    return stored, totals, leads, store, jobs, writer, events, job_id


def test_a_scheduled_job_writes_and_announces_only_the_moved_grades() -> None:
    stored, totals, leads, store, jobs, writer, events, job_id = run_scheduled(40)
    before = {lead.lead_id: lead.grade for _, lead in stored}
    new = expected_grades(leads, totals, Models().scorer)
    open_ids = {lead.id for lead in leads} - store.outcomes
    moved = {i for i in open_ids if new[i] != before[i]}
    assert 0 < len(moved) < len(open_ids)  # some moved, some did not

    assert sorted(item["lead_id"]["S"] for item in writer.written) == sorted(moved)
    assert sorted(item["lead_id"]["S"] for item in writer.history) == sorted(moved)  # the score history: cause
    assert {item["cause"]["S"] for item in writer.history} == {"rescoring"}
    assert all(item["grade"]["S"] == new[item["lead_id"]["S"]] for item in writer.written)
    changed = [e for e in events.published if e.type == "lead.score_changed"]
    assert {e.data["lead_id"] for e in changed} == moved
    assert all(e.data["trigger"] == {"action": "rescoring", "job_id": job_id} for e in changed)
    assert all(e.data["previous"]["grade"] == before[e.data["lead_id"]] != e.data["grade"] for e in changed)

    (summary,) = [e for e in events.published if e.type == "model.rescored"]
    counts = ("cause", "previous_version", "version", "leads_examined", "leads_rescored", "grades_moved",
              "leads_written", "events_published", "events_suppressed", "leads_with_outcome")  # fmt: skip
    assert {k: summary.data[k] for k in counts} == {
        "cause": "rescoring", "previous_version": NEW.version, "version": NEW.version, "leads_examined": 40,
        "leads_rescored": len(open_ids), "grades_moved": len(moved), "leads_written": len(moved),
        "events_published": len(moved), "events_suppressed": 0, "leads_with_outcome": 1,
    }  # fmt: skip
    record = RescoreJob.model_validate(jobs.jobs[TENANT, job_id].record)
    assert (record.cause, record.checkpoint.written, record.checkpoint.grades_moved) == (
        "rescoring", len(moved), len(moved)
    )  # fmt: skip


def test_a_scheduled_job_keeps_the_event_cap() -> None:
    *_, writer, events, _ = run_scheduled(40, cap=2)
    (summary,) = [e for e in events.published if e.type == "model.rescored"]
    assert summary.data["events_published"] == 2
    assert summary.data["events_suppressed"] == summary.data["grades_moved"] - 2
    assert len(writer.written) == summary.data["grades_moved"]  # written all the same


def test_a_scheduled_job_with_nothing_moved_writes_nothing() -> None:
    stored, totals, _ = make_leads(20)
    jobs, queue, writer, events = LeasedJobs(), Queue(), Writer(), MemoryEvents()
    assert schedule(jobs, queue).submit(TENANT, NOW) == "queued"
    same = Models(scorer=default_scorer())  # the model the leads were stored with, the same inputs
    runner = rescorer(jobs, Store(stored), totals, writer, events, queue, same)
    assert runner.handle(TENANT, scheduled_job_id(NOW), lambda: LOTS) == "completed"
    assert writer.calls == 0
    assert [(e.type, e.data["grades_moved"], e.data["leads_written"]) for e in events.published] == [
        ("model.rescored", 0, 0)
    ]


def test_a_promotions_job_still_writes_every_open_lead() -> None:
    stored, totals, _ = make_leads(30)
    jobs, queue, writer, events = LeasedJobs(), Queue(), Writer(), MemoryEvents()
    job_id = submitted(jobs, queue)
    assert rescorer(jobs, Store(stored), totals, writer, events, queue).handle(TENANT, job_id, lambda: LOTS) == (
        "completed"
    )
    assert len(writer.written) == len(writer.history) == 30
    assert {item["cause"]["S"] for item in writer.history} == {"promotion"}
    (summary,) = [e for e in events.published if e.type == "model.rescored"]
    assert (summary.data["cause"], summary.data["leads_written"]) == ("promotion", 30)
    assert summary.data["grades_moved"] < 30


def test_the_moved_leads_requests_are_taken_whole() -> None:
    """A lead's score item may come with items of its own (a history item): a scheduled job takes them together."""
    from aiqleads.rescoring.runner import _rows

    assert _rows(["s0", "s1", "s2"], 3, [0, 2]) == ["s0", "s2"]
    assert _rows(["s0", "h0", "s1", "h1", "s2", "h2"], 3, [1, 2]) == ["s1", "h1", "s2", "h2"]
    assert _rows([], 0, []) == []
    with pytest.raises(ValueError, match="same number"):
        _rows(["s0", "h0", "s1"], 2, [0])


def test_engagement_fading_moves_matrix_grades_and_a_scheduled_job_writes_only_those() -> None:
    """Two months after their interactions, the same model on the same leads: engaged leads' engagement has faded
    (their matrix digit moves), leads with nothing recorded are where they were, so only moved ones are written."""
    stored, totals, leads = make_leads(40)
    for lead_id in list(totals)[::2]:  # half the tracked leads had serious interactions too, recently
        totals[lead_id] = replace(totals[lead_id], inquiries=3, messages=2, schedules=1, last_activity_at=NOW)
    scorer = default_scorer()
    stored = [
        (created, replace(lead, grade=s.grade.value, score=s.score, matrix_grade=s.matrix_grade))
        for (created, lead), s in zip(stored, _scores(leads, totals, scorer, NOW), strict=True)
    ]
    later = NOW + timedelta(days=60)
    faded = {s.lead_id: s for s in _scores(leads, totals, scorer, later)}
    before = {lead.lead_id: lead for _, lead in stored}
    moved = {
        i for i, s in faded.items() if (s.grade.value, s.matrix_grade) != (before[i].grade, before[i].matrix_grade)
    }
    assert moved <= set(totals)  # only leads with behaviour: nothing recorded cannot fade
    still_open = {
        lead.id for lead in leads if lead.created_at and lead.created_at >= later - timedelta(days=LABEL_WINDOW_DAYS)
    }
    moved &= still_open  # the rest left the label window: no longer rescored
    assert moved  # engagement faded enough to move some
    assert all(faded[i].engagement <= (_scores([lead], totals, scorer, NOW)[0].engagement or 0)  # type: ignore[operator]
               for i in moved for lead in leads if lead.id == i)  # fmt: skip

    jobs, queue, writer, events = LeasedJobs(), Queue(), Writer(), MemoryEvents()
    assert schedule(jobs, queue).submit(TENANT, later) == "queued"
    same = Models(scorer=scorer)
    runner = rescorer(jobs, Store(stored), totals, writer, events, queue, same, now=later)
    assert runner.handle(TENANT, scheduled_job_id(later), lambda: LOTS) == "completed"
    assert {item["lead_id"]["S"] for item in writer.written} == moved
    assert {item["matrix_grade"]["S"] for item in writer.written} == {faded[i].matrix_grade for i in moved}
    changed = [e for e in events.published if e.type == "lead.score_changed"]
    assert {e.data["lead_id"] for e in changed} == moved
    assert all(e.data["engagement"] == faded[e.data["lead_id"]].engagement for e in changed)


def _scores(leads: list[Any], totals: dict[str, Any], scorer: Any, now: datetime) -> list[Any]:
    """Each lead scored as real-time scoring would at `now` (its totals decayed to then)."""
    found = []
    for lead in leads:
        signals = market_signals(SNAPSHOT) if lead.property.market == "las-vegas" else {}
        if lead.id in totals:
            signals |= totals[lead.id].signals(lead.created_at, now, half_life_days=scorer.spec.half_life_days)
        found.append(scorer.score_lead(lead, signals))
    return found
