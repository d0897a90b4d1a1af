"""Wiring: services built from the environment's settings and the AWS repositories (one per process)."""

from __future__ import annotations

import functools

from .artifact import load_artifact
from .leads_service import LeadService
from .scoring import Scorer
from .settings import Settings
from .storage.aggregates import AggregateRepository
from .storage.api_keys import ApiKeyRepository
from .storage.leads import LeadRepository
from .storage.markets import MarketSignalRepository
from .storage.messaging import EventPublisher, QueueSender


@functools.cache
def default_scorer() -> Scorer:
    """The serving model's scorer, loaded on first use (the ONNX session is created once per process)."""
    return Scorer(load_artifact())


def lead_service(settings: Settings | None = None) -> LeadService:
    settings = (settings or Settings.from_env()).require(
        "leads_table", "aggregates_table", "market_signals_table", "domain_events_topic_arn"
    )
    return LeadService(
        leads=LeadRepository(settings.leads_table),
        aggregates=AggregateRepository(settings.aggregates_table),
        markets=MarketSignalRepository(settings.market_signals_table),
        events=EventPublisher(settings.domain_events_topic_arn),
        scorer=default_scorer,
        interactions_queue=QueueSender(settings.events_queue_url) if settings.events_queue_url else None,
    )


def api_key_repository(settings: Settings | None = None) -> ApiKeyRepository:
    settings = (settings or Settings.from_env()).require("api_keys_table")
    return ApiKeyRepository(settings.api_keys_table)
