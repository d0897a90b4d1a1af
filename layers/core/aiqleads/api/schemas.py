"""Request and response bodies of the REST API (the domain models, wrapped where the API adds fields)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from aiqleads.errors import ErrorBody as ErrorBody
from aiqleads.errors import ErrorEnvelope as ErrorEnvelope
from aiqleads.leads.service import MAX_BATCH
from aiqleads.models import Conversion, Id, Interaction, Lead, Score

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
