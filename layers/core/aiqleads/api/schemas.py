"""Request and response bodies of the REST API (the domain models, wrapped where the API adds fields)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from aiqleads.errors import ErrorBody as ErrorBody
from aiqleads.errors import ErrorEnvelope as ErrorEnvelope
from aiqleads.leads.service import MAX_BATCH
from aiqleads.models import Conversion, Id, Interaction, Lead, Score, ScoreHistoryEntry, ScoreTrend

MAX_EVENTS = 100


class LeadBatch(BaseModel):
    # Items stay untyped here so that one bad lead is reported in its own result instead of failing the batch.
    leads: list[dict[str, Any]] = Field(description=f"up to {MAX_BATCH} leads in the wire format")


class BatchItem(BaseModel):
    index: int
    status: int = Field(description="201 created, 409 duplicate id, 422 invalid")
    id: str | None = None
    score: Score | None = None
    error: ErrorBody | None = None


class BatchMeta(BaseModel):
    created: int
    failed: int


class BatchResult(BaseModel):
    data: list[BatchItem]
    meta: BatchMeta


class StoredLead(BaseModel):
    lead: Lead
    score: Score | None
    conversions: list[Conversion]
    stored_at: str | None = None
    scored_at: str | None = None
    trend: ScoreTrend | None = Field(
        default=None, description="the score over the last 7 days: improving, steady or declining (null: no score)"
    )

    @classmethod
    def of(cls, record: Any, now: datetime | None = None) -> StoredLead:
        """A stored lead (`storage.leads.LeadRecord`) as the API serves it, its trend as of `now`."""
        return cls(
            lead=record.lead,
            score=record.score,
            conversions=record.conversions,
            stored_at=record.stored_at,
            scored_at=record.scored_at,
            trend=record.trend(now or datetime.now(UTC)),
        )


class ScoreHistoryMeta(BaseModel):
    lead_id: Id
    count: int
    limit: int
    has_more: bool
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null: the last page")


class ScoreHistoryPage(BaseModel):
    """A lead's score history, newest first: each written score with its time and cause."""

    data: list[ScoreHistoryEntry]
    meta: ScoreHistoryMeta


class InteractionBatch(BaseModel):
    events: list[Interaction] = Field(min_length=1, max_length=MAX_EVENTS)


class EventsAccepted(BaseModel):
    accepted: int
    event_ids: list[Id]


class ConversionBatch(BaseModel):
    conversions: list[Conversion] = Field(min_length=1, max_length=MAX_EVENTS)


class ConversionsRecorded(BaseModel):
    recorded: int


class Health(BaseModel):
    status: str
    stage: str
    model_version: str
