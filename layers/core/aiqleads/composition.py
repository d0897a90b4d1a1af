"""The composition root: each function's services, built from its settings model on first use, once per process.

Every service, repository and the model is imported inside the factory that builds it, so a function's cold start
loads only what it wires: importing this module costs nothing, and the authorizer and notify functions never load
numpy, pyarrow, onnxruntime or the model (tests/unit/test_cold_start.py holds them to it).

    authorizer           api_keys()
    api                  api_leads(), api_markets(), api_models(), api_recommendations(), api_recommendation_jobs(),
                         api_webhooks()
    events               events_leads(), events_idempotency()
    notify               notifier()
    every queue consumer queue_dead_letters(): a message failing on its last receive is alerted
    bulk_score           bulk_scorer(), bulk_market_imports(), bulk_rescorer(), bulk_rescore_schedule(),
                         bulk_tenants()

Every function that scores holds a `ModelResolver` (api_scoring, events_scoring, bulk_scoring): tenant -> the
model its production alias names, re-read at most every MODEL_ALIAS_TTL_SECONDS.
    recommendations_job  recommendations_job_runner()
    training             training_runner() (its dataset builder, registry, resolver), training_tenants()
    monitor              monitor_runner() (its monitor: window reader, resolver, runs, alerts), monitor_tenants()

`FUNCTION_WIRING` names them per function; `infra.iam` builds them to find which adapters, on which resources,
each function holds (their `IAM` declarations), which is what template.yaml must grant it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aiqleads.process_cache import per_process
from aiqleads.settings import (
    ApiSettings,
    AuthorizerSettings,
    BulkSettings,
    DeadLetterSettings,
    EventsSettings,
    LeadResources,
    ModelResources,
    MonitorSettings,
    NotifySettings,
    PublisherSettings,
    RecommendationJobResources,
    RecommendationResources,
    RecommendationsJobSettings,
    TrainingSettings,
)

# boto3 is every function's, so it loads with the handler in Lambda's init phase rather than inside the first
# request: with provisioned concurrency or SnapStart, init is done before any request arrives.
from aiqleads.storage import aws  # noqa: F401

if TYPE_CHECKING:
    from aiqleads.bulk.runner import BulkScorer
    from aiqleads.bulk.tenancy import UploadTenancy
    from aiqleads.leads.service import LeadService
    from aiqleads.markets.imports import MarketSignalImporter
    from aiqleads.markets.service import MarketSignalService
    from aiqleads.monitoring.jobs import MonitorJobs
    from aiqleads.notifications.dead_letters import DeadLetterAlerts
    from aiqleads.notifications.relay import OutboxRelay
    from aiqleads.ports import MessageQueue
    from aiqleads.recommendations.jobs import RecommendationJobs
    from aiqleads.recommendations.service import RecommendationService
    from aiqleads.registry.service import ModelRegistry
    from aiqleads.registry.serving import ModelResolver
    from aiqleads.rescoring.jobs import RescoreJobs
    from aiqleads.rescoring.runner import Rescorer
    from aiqleads.rescoring.schedule import ScheduledRescores
    from aiqleads.scoring.scorer import Scorer
    from aiqleads.storage.api_keys import ApiKeyReader
    from aiqleads.storage.idempotency import IdempotencyStore
    from aiqleads.storage.markets import MarketSignalRepository, MarketSignalStore
    from aiqleads.storage.monitoring import MonitorRunReader
    from aiqleads.storage.tenants import TenantDirectory
    from aiqleads.tenants.query_budget import CostBudget, QueryBudgets
    from aiqleads.training.dataset import DatasetBuilder, HistoryPolicy
    from aiqleads.training.jobs import TrainingJobs
    from aiqleads.webhooks.delivery import Notifier
    from aiqleads.webhooks.service import WebhookService


@per_process
def default_scorer() -> Scorer:
    """The serving model's scorer, loaded on first use (the ONNX session is created once per process)."""
    from aiqleads.scoring.artifact import load_artifact
    from aiqleads.scoring.scorer import Scorer

    return Scorer(load_artifact())


def model_resolver(settings: ModelResources) -> ModelResolver:
    """Tenant -> its production model (registry/serving.py); the shipped model until the registry has a default."""
    from aiqleads.registry.serving import ModelResolver
    from aiqleads.storage.models import ArtifactReader, ModelReader

    return ModelResolver(
        ModelReader(settings.models_table),
        ArtifactReader(settings.models_bucket),
        cache_dir=settings.model_cache_dir,
        ttl_seconds=settings.model_alias_ttl_seconds,
        fallback=default_scorer,
    )


# ------------------------------------------------------------------------------------------------ authorizer
@per_process
def api_keys() -> ApiKeyReader:
    from aiqleads.storage.api_keys import ApiKeyReader

    return ApiKeyReader(AuthorizerSettings.current().api_keys_table)


# ------------------------------------------------------------------------------------------------ api
@per_process
def api_market_signals() -> MarketSignalStore:
    """One per process, shared by scoring and the market routes: a PUT drops what scoring cached for its market."""
    from aiqleads.storage.markets import MarketSignalStore

    return MarketSignalStore(ApiSettings.current().market_signals_table)


@per_process
def api_scoring() -> ModelResolver:
    return model_resolver(ApiSettings.current())


@per_process
def api_leads() -> LeadService:
    settings = ApiSettings.current()
    return lead_service(
        settings,
        api_scoring(),
        interactions_queue_url=settings.events_queue_url,
        markets=api_market_signals(),
        applies_interactions=False,
    )


@per_process
def api_models() -> ModelRegistry:
    """The registry's routes (api/context.models registers the global default before the first one runs)."""
    from aiqleads.registry.service import ModelRegistry
    from aiqleads.registry.shadow import ShadowReports
    from aiqleads.storage.leads import LeadRepository
    from aiqleads.storage.models import ArtifactBucket, ModelRepository
    from aiqleads.storage.outbox import Outbox
    from aiqleads.storage.shadow import ShadowScoreReader

    settings = ApiSettings.current()
    return ModelRegistry(
        ModelRepository(settings.models_table),
        ArtifactBucket(settings.models_bucket),
        Outbox(settings.outbox_table),
        shadow_reports=ShadowReports(ShadowScoreReader(settings.leads_table), LeadRepository(settings.leads_table)),
        on_production_change=api_rescore_jobs(),
    )


@per_process
def api_rescore_jobs() -> RescoreJobs:
    settings = ApiSettings.current()
    return rescore_jobs(
        settings.jobs_table, settings.bulk_queue_url, settings.model_alias_ttl_seconds, settings.label_window_days
    )


def rescore_jobs(jobs_table: str, bulk_queue_url: str, alias_ttl_seconds: float, window_days: int) -> RescoreJobs:
    """The registry's `on_production_change` for any function that moves production (the API; the training
    function's automatic promotion): the rescoring of the tenant's open leads, run by bulk_score, delayed by the
    alias TTL so every warm function scores with the new version before the job passes. Needs PutItem on
    JobsTable and SendMessage on BulkQueue."""
    from aiqleads.rescoring.jobs import RescoreJobs
    from aiqleads.storage.jobs import JobRepository
    from aiqleads.storage.messaging import QueueSender

    return RescoreJobs(
        JobRepository(jobs_table),
        QueueSender(bulk_queue_url),
        delay_seconds=alias_ttl_seconds,
        window_days=window_days,
    )


@per_process
def api_global_default() -> str:
    """The shipped model registered as the global default, once per process, on the models routes' first use
    (idempotent, conditional writes). The API registers it (the training function only adds tenants' versions),
    rather than a deploy-time custom resource; until then every scoring function falls back to the same shipped
    model, so nothing scores differently before it."""
    from aiqleads.scoring.artifact import default_model_dir

    return api_models().ensure_global_default(default_model_dir()).version


@per_process
def api_markets() -> MarketSignalService:
    from aiqleads.markets.service import MarketSignalService

    return MarketSignalService(api_market_signals())


@per_process
def api_recommendations() -> RecommendationService:
    return recommendation_service(ApiSettings.current())


@per_process
def api_recommendation_jobs() -> RecommendationJobs:
    from aiqleads.storage.messaging import QueueSender

    settings = ApiSettings.current()
    return recommendation_jobs(settings, QueueSender(settings.jobs_queue_url), runs_jobs=False)


@per_process
def api_training_jobs() -> TrainingJobs:
    from aiqleads.storage.jobs import JobRepository
    from aiqleads.storage.messaging import QueueSender
    from aiqleads.training.jobs import TrainingJobs

    settings = ApiSettings.current()
    return TrainingJobs(JobRepository(settings.jobs_table), QueueSender(settings.training_queue_url))


@per_process
def api_monitor_jobs() -> MonitorJobs:
    from aiqleads.monitoring.jobs import MonitorJobs
    from aiqleads.storage.jobs import JobRepository
    from aiqleads.storage.messaging import QueueSender

    settings = ApiSettings.current()
    return MonitorJobs(JobRepository(settings.jobs_table), QueueSender(settings.monitor_queue_url))


@per_process
def api_monitor_runs() -> MonitorRunReader:
    from aiqleads.storage.monitoring import MonitorRunReader

    return MonitorRunReader(ApiSettings.current().monitoring_table)


@per_process
def api_query_budgets() -> QueryBudgets:
    from aiqleads.storage.query_budgets import QueryBudgetRepository
    from aiqleads.tenants.query_budget import QueryBudgets

    return QueryBudgets(QueryBudgetRepository(ApiSettings.current().jobs_table))


def api_cost_budgets() -> dict[str, CostBudget]:
    return {tier.value: budget for tier, budget in ApiSettings.current().graphql_cost_budgets.items()}


@per_process
def api_webhooks() -> WebhookService:
    from aiqleads.storage.webhooks import WebhookRepository
    from aiqleads.webhooks.service import WebhookService

    settings = ApiSettings.current()
    return WebhookService(WebhookRepository(settings.buyers_table), settings.webhooks)


# ------------------------------------------------------------------------------------------------ events
@per_process
def events_scoring() -> ModelResolver:
    return model_resolver(EventsSettings.current())


@per_process
def events_leads() -> LeadService:
    return lead_service(EventsSettings.current(), events_scoring())


@per_process
def events_idempotency() -> IdempotencyStore:
    from aiqleads.storage.idempotency import IdempotencyStore

    return IdempotencyStore(table_name=EventsSettings.current().idempotency_table)


# ------------------------------------------------------------------------------------------------ every queue consumer
@per_process
def queue_dead_letters() -> DeadLetterAlerts:
    """The queue.dead_lettered alert of a message failing on its last receive (any SQS-triggered function)."""
    from aiqleads.notifications.dead_letters import DeadLetterAlerts
    from aiqleads.storage.alerts import AlertPublisher

    settings = DeadLetterSettings.current()
    alerts = AlertPublisher(settings.alerts_topic_arn) if settings.alerts_topic_arn else None
    return DeadLetterAlerts(alerts, settings.queue_max_receives or {})


# ------------------------------------------------------------------------------------------------ notify
@per_process
def notifier() -> Notifier:
    from aiqleads.storage.alerts import AlertPublisher
    from aiqleads.storage.messaging import QueueSender
    from aiqleads.storage.webhooks import WebhookRepository
    from aiqleads.webhooks.delivery import Notifier

    settings = NotifySettings.current()
    return Notifier(
        WebhookRepository(settings.buyers_table),
        QueueSender(settings.notify_queue_url),
        QueueSender(settings.notify_dead_letter_queue_url),
        AlertPublisher(settings.alerts_topic_arn),
        settings.webhooks,
    )


# ------------------------------------------------------------------------------------------------ bulk_score
@per_process
def bulk_scoring() -> ModelResolver:
    return model_resolver(BulkSettings.current())


@per_process
def bulk_scorer() -> BulkScorer:
    from aiqleads.bulk.runner import BulkScorer
    from aiqleads.storage.jobs import JobRepository
    from aiqleads.storage.leads import LeadBatchWriter
    from aiqleads.storage.messaging import QueueSender
    from aiqleads.storage.objects import ObjectStore
    from aiqleads.storage.outbox import Outbox

    settings = BulkSettings.current()
    return BulkScorer(
        objects=ObjectStore(),
        jobs=JobRepository(settings.jobs_table),
        leads=LeadBatchWriter(settings.leads_table),
        events=Outbox(settings.outbox_table),
        queue=QueueSender(settings.bulk_queue_url),
        scorer=bulk_scoring(),
        settings=settings,
        tenancy=bulk_tenancy(),
        shadow=bulk_scoring().shadow,
    )


@per_process
def bulk_tenancy() -> UploadTenancy:
    from aiqleads.bulk.tenancy import UploadTenancy
    from aiqleads.storage.alerts import AlertPublisher
    from aiqleads.storage.objects import ObjectStore

    return UploadTenancy(bulk_tenants(), ObjectStore(), AlertPublisher(BulkSettings.current().alerts_topic_arn))


@per_process
def bulk_market_imports() -> MarketSignalImporter:
    from aiqleads.markets.imports import MarketSignalImporter
    from aiqleads.markets.service import MarketSignalService
    from aiqleads.storage.jobs import JobRepository
    from aiqleads.storage.markets import MarketSignalStore
    from aiqleads.storage.objects import ObjectStore
    from aiqleads.storage.outbox import Outbox

    settings = BulkSettings.current()
    return MarketSignalImporter(
        objects=ObjectStore(),
        jobs=JobRepository(settings.jobs_table),
        markets=MarketSignalService(MarketSignalStore(settings.market_signals_table)),
        events=Outbox(settings.outbox_table),
        tenancy=bulk_tenancy(),
        work_dir=settings.work_dir,
        job_ttl_days=settings.job_ttl_days,
    )


@per_process
def bulk_rescorer() -> Rescorer:
    from aiqleads.rescoring.runner import RescoreOptions, Rescorer
    from aiqleads.storage.aggregates import AggregateBatchReader
    from aiqleads.storage.jobs import JobRepository
    from aiqleads.storage.leads import LeadBatchWriter
    from aiqleads.storage.markets import MarketSignalRepository
    from aiqleads.storage.messaging import QueueSender
    from aiqleads.storage.open_leads import OpenLeadReader
    from aiqleads.storage.outbox import Outbox

    settings = BulkSettings.current()
    return Rescorer(
        jobs=JobRepository(settings.jobs_table),
        leads=OpenLeadReader(settings.leads_table),
        totals=AggregateBatchReader(settings.aggregates_table),
        markets=MarketSignalRepository(settings.market_signals_table),
        writer=LeadBatchWriter(settings.leads_table),
        events=Outbox(settings.outbox_table),
        queue=QueueSender(settings.bulk_queue_url),
        models=bulk_scoring(),
        options=RescoreOptions(
            page_rows=settings.rescore_page_rows,
            event_cap=settings.rescore_event_cap,
            time_margin_s=settings.time_margin_s,
            history_retention_days=settings.score_history_retention_days,
        ),
    )


@per_process
def bulk_rescore_schedule() -> ScheduledRescores:
    """The scheduled rescoring's fan-out: one `rescore` job per tenant (cause `rescoring`), run by bulk_rescorer."""
    from aiqleads.rescoring.schedule import ScheduledRescores
    from aiqleads.storage.jobs import JobRepository
    from aiqleads.storage.messaging import QueueSender
    from aiqleads.storage.open_leads import OpenLeadReader

    settings = BulkSettings.current()
    return ScheduledRescores(
        jobs=JobRepository(settings.jobs_table),
        queue=QueueSender(settings.bulk_queue_url),
        leads=OpenLeadReader(settings.leads_table),
        models=bulk_scoring(),
        window_days=settings.label_window_days,
    )


@per_process
def bulk_tenants() -> TenantDirectory:
    from aiqleads.storage.tenants import TenantDirectory

    return TenantDirectory(BulkSettings.current().tenants_table)


# ------------------------------------------------------------------------------------------------ recommendations_job
class _NoJobQueue:
    """The recommendations_job function runs queued jobs; only the API queues them."""

    def send(self, body: dict[str, Any], delay_seconds: int = 0, attributes: dict[str, str] | None = None) -> str:
        raise RuntimeError("the recommendations_job function does not queue jobs (POST /v1/recommendations/generate)")

    def send_many(self, bodies: Sequence[dict[str, Any]]) -> None:
        self.send({})


@per_process
def recommendations_job_runner() -> RecommendationJobs:
    return recommendation_jobs(RecommendationsJobSettings.current(), _NoJobQueue())


# ------------------------------------------------------------------------------------------------ training
@per_process
def training_dataset_builder() -> DatasetBuilder:
    """The training function's: a tenant's training set from the tables its settings name."""
    return dataset_builder(TrainingSettings.current())


def training_history_policy() -> HistoryPolicy:
    """The history policy the training function's settings set (label window, minimum history)."""
    from aiqleads.training.dataset import HistoryPolicy

    settings = TrainingSettings.current()
    return HistoryPolicy(
        label_window_days=settings.label_window_days,
        min_labelled=settings.training_min_labelled,
        min_conversions=settings.training_min_conversions,
    )


def dataset_builder(settings: LeadResources, *, workers: int = 16) -> DatasetBuilder:
    """A training set builder on the tables a lead service uses. It only reads: LeadsTable's lead and conversion
    items (BatchGetItem, Query on TenantIndex), AggregatesTable's interaction log and MarketSignalsTable (Query)."""
    from aiqleads.storage.aggregates import InteractionLogReader
    from aiqleads.storage.leads import LeadHistoryReader
    from aiqleads.storage.markets import MarketSignalRepository
    from aiqleads.training.dataset import DatasetBuilder

    return DatasetBuilder(
        LeadHistoryReader(settings.leads_table),
        InteractionLogReader(settings.aggregates_table),
        MarketSignalRepository(settings.market_signals_table),
        workers=workers,
    )


@per_process
def training_scoring() -> ModelResolver:
    return model_resolver(TrainingSettings.current())


@per_process
def training_runner() -> TrainingJobs:
    from aiqleads.registry.service import ModelRegistry
    from aiqleads.storage.jobs import JobRepository
    from aiqleads.storage.messaging import QueueSender
    from aiqleads.storage.models import ArtifactBucket, ModelRepository
    from aiqleads.storage.outbox import Outbox
    from aiqleads.storage.tenants import TenantDirectory
    from aiqleads.training.jobs import TrainingConfig, TrainingJobs

    settings = TrainingSettings.current()
    events = Outbox(settings.outbox_table)
    return TrainingJobs(
        jobs=JobRepository(settings.jobs_table),
        queue=QueueSender(settings.training_queue_url),
        events=events,
        datasets=training_dataset_builder(),
        registry=ModelRegistry(
            ModelRepository(settings.models_table),
            ArtifactBucket(settings.models_bucket),
            events,
            on_production_change=rescore_jobs(
                settings.jobs_table,
                settings.bulk_queue_url,
                settings.model_alias_ttl_seconds,
                settings.label_window_days,
            ),
        ),
        serving=training_scoring(),
        tenants=TenantDirectory(settings.tenants_table),
        config=TrainingConfig(
            min_auc_gain=settings.promotion_min_auc_gain,
            policy=training_history_policy(),
            threads=settings.training_threads,
            code_version=settings.code_version,
            work_dir=settings.work_dir,
        ),
    )


@per_process
def training_tenants() -> TenantDirectory:
    from aiqleads.storage.tenants import TenantDirectory

    return TenantDirectory(TrainingSettings.current().tenants_table)


# ------------------------------------------------------------------------------------------------ monitor
@per_process
def monitor_runner() -> MonitorJobs:
    from aiqleads.monitoring.jobs import MonitorJobs
    from aiqleads.monitoring.runner import Monitor, MonitorConfig, emit_figures
    from aiqleads.storage.alerts import AlertPublisher
    from aiqleads.storage.jobs import JobRepository
    from aiqleads.storage.leads import LeadHistoryReader
    from aiqleads.storage.messaging import QueueSender
    from aiqleads.storage.monitoring import MonitorRunRepository
    from aiqleads.storage.open_leads import OpenLeadReader, ServedScoreReader
    from aiqleads.storage.shadow import ShadowScoreReader
    from aiqleads.storage.tenants import TenantDirectory
    from aiqleads.training.jobs import TrainingJobs

    settings = MonitorSettings.current()
    monitor = Monitor(
        models=model_resolver(settings),
        leads=OpenLeadReader(settings.leads_table),
        outcomes=LeadHistoryReader(settings.leads_table),
        served=ServedScoreReader(settings.leads_table),
        shadow_pairs=ShadowScoreReader(settings.leads_table),
        runs=MonitorRunRepository(settings.monitoring_table, settings.monitor_retention_days),
        alerts=AlertPublisher(settings.alerts_topic_arn),
        policies=TenantDirectory(settings.tenants_table),
        training=TrainingJobs(JobRepository(settings.jobs_table), QueueSender(settings.training_queue_url)),
        config=MonitorConfig(
            window_days=settings.monitor_window_days,
            min_outcomes=settings.monitor_min_outcomes,
            auc_drop=settings.alert_auc_drop,
        ),
        observe=emit_figures,
    )
    return MonitorJobs(JobRepository(settings.jobs_table), QueueSender(settings.monitor_queue_url), monitor)


@per_process
def monitor_tenants() -> TenantDirectory:
    from aiqleads.storage.tenants import TenantDirectory

    return TenantDirectory(MonitorSettings.current().tenants_table)


# ------------------------------------------------------------------------------------------------ shared services
def lead_service(
    settings: LeadResources,
    scorer: ModelResolver,
    interactions_queue_url: str | None = None,
    markets: MarketSignalRepository | None = None,
    *,
    applies_interactions: bool = True,
) -> LeadService:
    """`applies_interactions`: the events function updates the aggregates; the API only reads them."""
    from aiqleads.leads.service import LeadService
    from aiqleads.registry.shadow import ShadowScoring
    from aiqleads.storage.aggregates import AggregateReader, AggregateRepository
    from aiqleads.storage.leads import LeadRepository
    from aiqleads.storage.markets import MarketSignalRepository
    from aiqleads.storage.messaging import QueueSender
    from aiqleads.storage.outbox import Outbox
    from aiqleads.storage.shadow import ShadowScoreWriter

    return LeadService(
        leads=LeadRepository(
            settings.leads_table,
            history_retention_days=settings.score_history_retention_days,
            outbox=Outbox(settings.outbox_table),
        ),
        aggregates=(AggregateRepository if applies_interactions else AggregateReader)(settings.aggregates_table),
        markets=markets or MarketSignalRepository(settings.market_signals_table),
        scorer=scorer,
        interactions_queue=QueueSender(interactions_queue_url) if interactions_queue_url else None,
        shadow=ShadowScoring(scorer.shadow, ShadowScoreWriter(settings.leads_table)),
    )


@functools.cache
def _market_pool() -> Any:
    """Threads for the per-market ScoreIndex queries of one recommendation request (I/O bound: they overlap)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="markets")


def _concurrent_map(function: Callable[[str], Any], items: Sequence[str]) -> Iterable[Any]:
    return list(_market_pool().map(function, items)) if len(items) > 1 else [function(i) for i in items]


def recommendation_service(
    settings: RecommendationResources, *, records_purchases: bool = True
) -> RecommendationService:
    """`records_purchases`: the API records purchases (LeadsTable's sale records); recommendation jobs only rank."""
    from aiqleads.recommendations.candidate_cache import CachedCandidates
    from aiqleads.recommendations.service import RecommendationService
    from aiqleads.storage.recommendations import CandidateRepository, MarketplaceRepository

    return RecommendationService(
        store=MarketplaceRepository(settings.buyers_table, settings.leads_table if records_purchases else None),
        candidates=CachedCandidates(CandidateRepository(settings.leads_table), settings.candidate_cache_seconds),
        mapper=_concurrent_map,
    )


def recommendation_jobs(
    settings: RecommendationJobResources, queue: MessageQueue, *, runs_jobs: bool = True
) -> RecommendationJobs:
    """`runs_jobs`: the recommendations_job function writes results to the bucket; the API only submits jobs."""
    from aiqleads.recommendations.jobs import RecommendationJobs
    from aiqleads.storage.jobs import JobRepository
    from aiqleads.storage.objects import ObjectStore
    from aiqleads.storage.outbox import Outbox

    return RecommendationJobs(
        recommendations=recommendation_service(settings, records_purchases=False),
        jobs=JobRepository(settings.jobs_table),
        queue=queue,
        objects=ObjectStore(),
        events=Outbox(settings.outbox_table),
        bucket=settings.uploads_bucket if runs_jobs else None,
    )


# ------------------------------------------------------------------------------------------------ publisher
@per_process
def outbox_relay() -> OutboxRelay:
    from aiqleads.notifications.relay import OutboxRelay
    from aiqleads.storage.alerts import AlertPublisher
    from aiqleads.storage.messaging import EventPublisher, QueueSender

    settings = PublisherSettings.current()
    return OutboxRelay(
        topic=EventPublisher(settings.domain_events_topic_arn),
        dead_letters=QueueSender(settings.publisher_dead_letter_queue_url),
        alerts=AlertPublisher(settings.alerts_topic_arn),
    )


# ------------------------------------------------------------------------------------------------ per function
FUNCTION_WIRING: dict[str, tuple[Callable[[], object], ...]] = {
    "authorizer": (api_keys,),
    "api": (
        api_leads,
        api_markets,
        api_models,
        api_recommendations,
        api_recommendation_jobs,
        api_training_jobs,
        api_monitor_jobs,
        api_monitor_runs,
        api_webhooks,
        api_query_budgets,
    ),
    "events": (events_leads, events_idempotency, queue_dead_letters),
    "notify": (notifier, queue_dead_letters),
    "publisher": (outbox_relay,),
    "bulk_score": (
        bulk_scorer,
        bulk_market_imports,
        bulk_rescorer,
        bulk_rescore_schedule,
        bulk_tenants,
        queue_dead_letters,
    ),
    "recommendations_job": (recommendations_job_runner, queue_dead_letters),
    "training": (training_runner, training_tenants, queue_dead_letters),
    "monitor": (monitor_runner, monitor_tenants, queue_dead_letters),
}
"""Each function (its directory under functions/, as settings.FUNCTION_SETTINGS) -> the factories it uses."""
