"""The lead use cases: ingest and score, read, record interactions and outcomes, re-score on behaviour.

Pure domain logic over small store interfaces (the repositories in `aiqleads.storage` implement them; tests may
pass fakes). Features for real-time scoring come from the stored lead, its behaviour aggregates and the latest
market signals of the tenant (each tenant keeps its own), exactly the inputs the feature spec names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from aiqleads import telemetry
from aiqleads.errors import Conflict, DomainError, InvalidInput, NotFound, PayloadTooLarge
from aiqleads.features.behaviour import BehaviourTotals
from aiqleads.features.market import market_signals
from aiqleads.leads.history import (
    HISTORY_DEFAULT_LIMIT,
    HISTORY_MAX_LIMIT,
    HistoryStamp,
    decode_cursor,
    encode_cursor,
)
from aiqleads.leads.trend import Point
from aiqleads.models import Conversion, Interaction, Lead, MarketSnapshot, Score, ScoreCause
from aiqleads.notifications.domain_events import DomainEvent, new_event_id
from aiqleads.ports import MessageQueue
from aiqleads.registry.shadow import ShadowScoring
from aiqleads.scoring.scorer import Scorer
from aiqleads.validation.fields import field_errors, summary

MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class LeadFilter:
    market: str | None = None
    grade: str | None = None
    score_min: int | None = None
    source: str | None = None

    def accepts(self, record: Any) -> bool:
        lead, score = record.lead, record.score
        if self.market is not None and lead.property.market != self.market:
            return False
        if self.source is not None and lead.source != self.source:
            return False
        if self.grade is not None and (score is None or score.grade.value != self.grade):
            return False
        return self.score_min is None or (score is not None and score.score >= self.score_min)


class LeadStore(Protocol):
    """`storage.leads.LeadRepository`: every score written with its history item (`HistoryStamp`)."""

    def create(
        self,
        tenant_id: str,
        lead: Lead,
        score: Score,
        stamp: HistoryStamp | None = None,
        announce: DomainEvent | None = None,
    ) -> None: ...
    def get(self, tenant_id: str, lead_id: str, *, conversions: bool = True) -> Any: ...
    def put_score(
        self,
        tenant_id: str,
        market: str,
        score: Score,
        stamp: HistoryStamp,
        recent: Sequence[Point] = (),
        announce: DomainEvent | None = None,
    ) -> None: ...
    def history(
        self, tenant_id: str, lead_id: str, limit: int, after: str | None = None
    ) -> tuple[list[tuple[str, Any]], str | None] | None: ...
    def put_conversion(self, tenant_id: str, conversion: Conversion) -> None: ...
    def exists(self, tenant_id: str, lead_ids: Sequence[str]) -> set[str]: ...
    def recent(
        self, tenant_id: str, limit: int, start_after: dict[str, str] | None = None
    ) -> tuple[list[tuple[Any, dict[str, str]]], dict[str, str] | None]: ...


class AggregateStore(Protocol):
    def get(self, tenant_id: str, lead_id: str) -> BehaviourTotals | None: ...
    def record(self, tenant_id: str, interaction: Interaction, event_id: str) -> BehaviourTotals: ...


class MarketStore(Protocol):
    def latest(self, tenant_id: str, market: str) -> MarketSnapshot | None: ...


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    id: str | None = None
    score: Score | None = None
    error: DomainError | None = None

    @property
    def status(self) -> int:
        return 201 if self.error is None else self.error.status

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"index": self.index, "status": self.status, "id": self.id}
        if self.score is not None:
            result["score"] = self.score.model_dump(mode="json")
        if self.error is not None:
            result["error"] = self.error.envelope()["error"]
        return result


@dataclass(frozen=True, slots=True)
class ScoreChange:
    lead_id: str
    previous: Score | None
    current: Score

    @property
    def changed(self) -> bool:
        before = self.previous
        now = self.current
        return before is None or (before.score, before.grade, before.matrix_grade) != (
            now.score,
            now.grade,
            now.matrix_grade,
        )


@dataclass
class LeadService:
    leads: LeadStore
    aggregates: AggregateStore
    markets: MarketStore
    scorer: Callable[[str], Scorer]  # the tenant -> the model scoring its leads (its production alias)
    interactions_queue: MessageQueue | None = None
    shadow: ShadowScoring | None = None  # scores again with the tenant's shadow model, stored aside (item 7)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    # ---------------------------------------------------------------- scoring
    def signals(
        self, tenant_id: str, lead: Lead, totals: BehaviourTotals | None = None, *, tracked: bool = True
    ) -> dict[str, float]:
        """Market inputs plus behaviour inputs, the counts decayed with the scoring model's half-life; an untracked
        lead (new, no interactions) leaves them missing, which the spec reads as nothing recorded (zeros)."""
        if totals is None and tracked:
            totals = self.aggregates.get(tenant_id, lead.id)
        values = market_signals(self.markets.latest(tenant_id, lead.property.market))  # the tenant's own
        if totals is not None:
            half_life = self.scorer(tenant_id).spec.half_life_days
            values.update(totals.signals(lead.created_at, self.clock(), half_life_days=half_life))
        return values

    def score(self, tenant_id: str, lead: Lead) -> Score:
        """Score without storing (aggregates of a stored lead with the same id count)."""
        return self.scorer(tenant_id).score_lead(lead, self.signals(tenant_id, lead))

    def ingest(self, tenant_id: str, lead: Lead) -> Score:
        """Store a new lead with its score and announce it (`lead.scored`, in the same transaction: stored and
        announced, or neither); an existing id is a 409 and nothing changes."""
        score = self._store(tenant_id, lead)
        telemetry.leads_scored("api", [score.grade])
        return score

    def _store(self, tenant_id: str, lead: Lead) -> Score:
        if lead.created_at is None:
            lead = lead.model_copy(update={"created_at": self.clock().replace(microsecond=0)})
        signals = self.signals(tenant_id, lead, tracked=False)
        score = self.scorer(tenant_id).score_lead(lead, signals)
        event = self._scored_event("lead.scored", tenant_id, lead, score)
        self.leads.create(tenant_id, lead, score, HistoryStamp(self.clock(), ScoreCause.INGEST), announce=event)
        if self.shadow is not None:  # after the lead is stored: a pair never exists without its lead
            self.shadow.record(tenant_id, lead, signals, score)
        return score

    def ingest_many(self, tenant_id: str, items: Sequence[Any]) -> list[ItemResult]:
        """Each item validated, stored, scored and announced on its own: one bad item never fails the others."""
        if len(items) > MAX_BATCH:
            raise PayloadTooLarge(f"a batch holds at most {MAX_BATCH} leads, got {len(items)}", {"max": MAX_BATCH})
        results: list[ItemResult] = []
        seen: set[str] = set()
        for index, item in enumerate(items):
            try:
                lead = Lead.model_validate(item)
            except ValidationError as error:
                given = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None
                details = field_errors(error)
                results.append(ItemResult(index, given, error=InvalidInput(summary(details), details)))
                continue
            if lead.id in seen:
                twice = Conflict(f"lead {lead.id!r} appears twice in this batch")
                results.append(ItemResult(index, lead.id, error=twice))
                continue
            seen.add(lead.id)
            try:
                score = self._store(tenant_id, lead)
            except Conflict as conflict:
                results.append(ItemResult(index, lead.id, error=conflict))
                continue
            results.append(ItemResult(index, lead.id, score=score))
        telemetry.leads_scored("batch", [result.score.grade for result in results if result.score is not None])
        return results

    # ---------------------------------------------------------------- reads
    def get(self, tenant_id: str, lead_id: str) -> Any:
        record = self.leads.get(tenant_id, lead_id)
        if record is None:
            raise NotFound(f"no lead {lead_id!r}", {"id": lead_id})
        return record

    def browse(
        self,
        tenant_id: str,
        first: int,
        after: dict[str, str] | None = None,
        where: LeadFilter | None = None,
        max_reads: int = 2000,
    ) -> tuple[list[tuple[Any, dict[str, str]]], dict[str, str] | None]:
        """Up to `first` of the tenant's leads, newest first, that pass `where`, each with the position to resume
        after it; and where the next page starts (None: no more). Reads at most `max_reads` index entries per
        call, so a filter that matches little returns a short page (even an empty one) that can be continued,
        instead of scanning the whole tenant."""
        where = where or LeadFilter()
        found: list[tuple[Any, dict[str, str]]] = []
        position = after
        reads = 0
        while len(found) < first and reads < max_reads:
            page_size = min(max(first * 2, 20), 200)
            records, next_position = self.leads.recent(tenant_id, page_size, position)
            reads += page_size
            for record, here in records:
                position = here
                if where.accepts(record):
                    found.append((record, here))
                    if len(found) == first:
                        return found, position
            if next_position is None:
                return found, None
            position = next_position
        return found, position

    def current_score(self, tenant_id: str, lead_id: str) -> Score:
        record = self.get(tenant_id, lead_id)
        if record.score is not None:
            return record.score
        score = self.score(tenant_id, record.lead)  # a lead stored without a score (before scores were stored)
        self.leads.put_score(
            tenant_id, record.lead.property.market, score, HistoryStamp(self.clock(), ScoreCause.INGEST)
        )
        return score

    def history(
        self, tenant_id: str, lead_id: str, limit: int = HISTORY_DEFAULT_LIMIT, cursor: str | None = None
    ) -> tuple[list[Any], list[str], str | None]:
        """A page of the lead's score history, newest first: the entries, each one's cursor (resume after it) and
        the next page's cursor (None: the last page); NotFound for a lead the tenant does not have."""
        if not 1 <= limit <= HISTORY_MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {HISTORY_MAX_LIMIT}", {"field": "limit"})
        after = decode_cursor(cursor, lead_id) if cursor else None
        found = self.leads.history(tenant_id, lead_id, limit, after)
        if found is None:
            raise NotFound(f"no lead {lead_id!r}", {"id": lead_id})
        pairs, resume = found
        entries = [entry for _, entry in pairs]
        cursors = [encode_cursor(lead_id, sk) for sk, _ in pairs]
        return entries, cursors, (encode_cursor(lead_id, resume) if resume else None)

    # ---------------------------------------------------------------- behaviour and outcomes
    def _require_known(self, tenant_id: str, lead_ids: Sequence[str]) -> None:
        unknown = sorted(set(lead_ids) - self.leads.exists(tenant_id, lead_ids))
        if unknown:
            shown = ", ".join(repr(i) for i in unknown[:10])
            raise NotFound(f"unknown lead ids: {shown}", {"unknown_lead_ids": unknown})

    def accept_interactions(self, tenant_id: str, interactions: Sequence[Interaction]) -> list[str]:
        """Queue interactions for the events function; returns one event id per interaction (for tracing)."""
        if self.interactions_queue is None:
            raise RuntimeError("no interactions queue configured")
        self._require_known(tenant_id, [i.lead_id for i in interactions])
        event_ids = [new_event_id() for _ in interactions]
        self.interactions_queue.send_many(
            [
                {"event_id": event_id, "tenant_id": tenant_id, "interaction": i.model_dump(mode="json")}
                for event_id, i in zip(event_ids, interactions, strict=True)
            ]
        )
        return event_ids

    def record_conversions(self, tenant_id: str, conversions: Sequence[Conversion]) -> int:
        self._require_known(tenant_id, [c.lead_id for c in conversions])
        for conversion in conversions:
            self.leads.put_conversion(tenant_id, conversion)
        return len(conversions)

    def apply_interaction(self, tenant_id: str, interaction: Interaction, event_id: str) -> ScoreChange | None:
        """Log the interaction and update the aggregates atomically, re-score, and announce a change of score or
        grade. `event_id` (given when the API accepted it) names the log item, so applying it again is harmless."""
        record = self.leads.get(tenant_id, interaction.lead_id, conversions=False)
        if record is None:
            return None  # the lead was deleted (or expired) after the event was accepted
        totals = self.aggregates.record(tenant_id, interaction, event_id)
        lead: Lead = record.lead
        signals = self.signals(tenant_id, lead, totals)
        current = self.scorer(tenant_id).score_lead(lead, signals)
        telemetry.leads_scored("events", [current.grade])
        if self.shadow is not None:  # every re-score, changed or not: the shadow's latest view of the lead
            self.shadow.record(tenant_id, lead, signals, current)
        change = ScoreChange(lead.id, record.score, current)
        if change.changed:  # the score item, its history item (cause `event`, keyed by the event id) and the
            # announcement together
            event = self._scored_event("lead.score_changed", tenant_id, lead, current)
            previous = change.previous
            event.data["previous"] = (
                None
                if previous is None
                else {"score": previous.score, "grade": previous.grade.value, "matrix_grade": previous.matrix_grade}
            )
            event.data["trigger"] = {"action": interaction.action.value, "at": interaction.timestamp.isoformat()}
            stamp = HistoryStamp(self.clock(), ScoreCause.EVENT, event_id)
            self.leads.put_score(tenant_id, lead.property.market, current, stamp, record.recent_scores, announce=event)
        return change

    @staticmethod
    def _scored_event(kind: Any, tenant_id: str, lead: Lead, score: Score) -> DomainEvent:
        return DomainEvent(
            type=kind,
            tenant_id=tenant_id,
            data={
                "lead_id": lead.id,
                "market": lead.property.market,
                "source": lead.source,
                "score": score.score,
                "grade": score.grade.value,
                "fit": score.fit,
                "engagement": score.engagement,
                "matrix_grade": score.matrix_grade,
                "probability": score.probability,
                "model_version": score.model_version,
                "reasons": [reason.text for reason in score.reasons],
            },
        )
