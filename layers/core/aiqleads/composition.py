"""Wiring: services built from the environment's settings and the AWS repositories (one per process)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aiqleads.leads.service import LeadService
from aiqleads.process_cache import per_process
from aiqleads.recommendations.candidate_cache import CachedCandidates
from aiqleads.recommendations.jobs import RecommendationJobs
from aiqleads.recommendations.service import RecommendationService
from aiqleads.scoring.artifact import load_artifact
from aiqleads.scoring.scorer import Scorer
from aiqleads.settings import Settings
from aiqleads.storage.aggregates import AggregateRepository
from aiqleads.storage.api_keys import ApiKeyRepository
from aiqleads.storage.jobs import JobRepository
from aiqleads.storage.leads import LeadRepository
from aiqleads.storage.markets import MarketSignalRepository
from aiqleads.storage.messaging import EventPublisher, QueueSender
from aiqleads.storage.objects import ObjectStore
from aiqleads.storage.recommendations import CandidateRepository, MarketplaceRepository


@per_process
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


@functools.cache
def _market_pool() -> Any:
    """Threads for the per-market ScoreIndex queries of one recommendation request (I/O bound: they overlap)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="markets")


def _concurrent_map(function: Callable[[str], Any], items: Sequence[str]) -> Iterable[Any]:
    return list(_market_pool().map(function, items)) if len(items) > 1 else [function(i) for i in items]


def recommendation_service(settings: Settings | None = None) -> RecommendationService:
    settings = (settings or Settings.from_env()).require("leads_table", "buyers_table")
    return RecommendationService(
        store=MarketplaceRepository(settings.buyers_table, settings.leads_table),
        candidates=CachedCandidates(CandidateRepository(settings.leads_table), settings.candidate_cache_seconds),
        mapper=_concurrent_map,
    )


def recommendation_jobs(settings: Settings | None = None) -> RecommendationJobs:
    settings = (settings or Settings.from_env()).require(
        "jobs_table", "jobs_queue_url", "uploads_bucket", "domain_events_topic_arn"
    )
    return RecommendationJobs(
        recommendations=recommendation_service(settings),
        jobs=JobRepository(settings.jobs_table),
        queue=QueueSender(settings.jobs_queue_url),
        objects=ObjectStore(),
        events=EventPublisher(settings.domain_events_topic_arn),
        bucket=settings.uploads_bucket,
    )
