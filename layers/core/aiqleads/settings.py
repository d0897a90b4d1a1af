"""Each function's settings: exactly the environment variables it reads, typed and validated.

A field is the variable of the same name in upper case (or its alias). template.yaml sets them (Globals for the
resources, a function's own Environment for its tuning) and the local cloud sets them to its own resources; a
test derives from the template that every function gets what its model requires.

`current()` reads a model once per process, on the function's first use: never at import, so tests and the local
cloud can configure a process after importing the handlers (`process_cache.reset()` makes it read again).
A missing or invalid variable fails that first use with every such variable named, instead of a confusing AWS
error later.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self, cast

from pydantic import BaseModel, ConfigDict, Field, Json, PositiveFloat, PositiveInt, ValidationError, field_validator

from aiqleads.models import Tier
from aiqleads.process_cache import per_process
from aiqleads.registry.label_window import LABEL_WINDOW_DAYS
from aiqleads.tenants.query_budget import CostBudget
from aiqleads.webhooks.settings import (
    Jitter,
    NonNegativeSeconds,
    PositiveSeconds,
    Schedule,
    Timeout,
    WebhookSettings,
)


class SettingsError(RuntimeError):
    """Environment variables a function needs are missing or invalid."""


class EnvSettings(BaseModel):
    """The mechanism: a frozen model whose fields are environment variables."""

    model_config = ConfigDict(frozen=True, alias_generator=str.upper, populate_by_name=True, extra="ignore")

    @classmethod
    def variables(cls) -> dict[str, bool]:
        """Each variable this model reads -> whether it must be set."""
        return {str(field.alias): field.is_required() for field in cls.model_fields.values()}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        environ = os.environ if environ is None else environ
        # An empty value is as good as missing: a table named "" would only fail later, inside boto3.
        values = {name: environ[name] for name in cls.variables() if environ.get(name, "").strip()}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise SettingsError(f"{cls.__name__}: {_problems(error)}") from None

    @classmethod
    def current(cls) -> Self:
        """This process's settings, read on first use."""
        return cast(Self, _current(cls))


@per_process
def _current(model: type[EnvSettings]) -> EnvSettings:
    return model.from_env()


def _problems(error: ValidationError) -> str:
    # Invalid values are quoted: these variables hold resource names and tuning, never secrets.
    missing = [str(e["loc"][0]) for e in error.errors() if e["type"] == "missing"]
    invalid = [f"{e['loc'][0]}={e['input']!r} ({e['msg']})" for e in error.errors() if e["type"] != "missing"]
    parts = [f"missing environment variables: {', '.join(missing)}"] if missing else []
    parts += [f"invalid environment variables: {'; '.join(invalid)}"] if invalid else []
    return ". ".join(parts)


# ------------------------------------------------------------------------------------------------ what services need
class LeadResources(EnvSettings):
    """The lead service: leads, their behaviour and market inputs, and the events it publishes."""

    leads_table: str
    aggregates_table: str
    market_signals_table: str
    outbox_table: str  # the events its writes announce (storage/outbox.py), published by the publisher function
    # How long a score history item is kept (LeadsTable expires_at); template.yaml: ScoreHistoryRetentionDays.
    score_history_retention_days: int = Field(180, ge=1, le=3650)


class ModelResources(EnvSettings):
    """The model registry, for every function that scores: which model a tenant's production alias names."""

    models_table: str
    models_bucket: str
    # How long a process trusts the aliases it read (registry/serving.py): a promotion reaches warm functions
    # within this time. template.yaml's ModelAliasTtlSeconds; 0 (tests) reads them on every score.
    model_alias_ttl_seconds: float = Field(60.0, ge=0, le=3600)
    # Where downloaded artifacts are kept for the process (Lambda's /tmp).
    model_cache_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()) / "aiqleads-models")


class RecommendationResources(EnvSettings):
    leads_table: str
    buyers_table: str
    # How long a process reuses a market's candidate list (recommendations/candidate_cache.py); 0 turns it off.
    candidate_cache_seconds: float = Field(10.0, ge=0, le=300)


class RecommendationJobResources(RecommendationResources):
    jobs_table: str
    uploads_bucket: str
    outbox_table: str


class WebhookAttempts(EnvSettings):
    """What every delivery attempt follows: the notify function's, and the API's test deliveries."""

    webhook_timeout: Timeout | None = None
    webhook_allow_loopback: bool | None = None

    def webhook_policy(self, **values: Any) -> WebhookSettings:
        """The policy's defaults, overridden by the variables that are set."""
        return WebhookSettings.overriding(
            timeout_seconds=self.webhook_timeout, allow_loopback=self.webhook_allow_loopback, **values
        )


# ------------------------------------------------------------------------------------------------ one per function
class QueueConsumer(EnvSettings):
    """A function an SQS queue triggers: a message failing on its last receive is alerted (notifications/
    dead_letters.py). template.yaml sets QUEUE_MAX_RECEIVES (queue ARN -> receives) from its QueueRedrive mapping,
    which the queues' RedrivePolicy reads too; unset (scripts, tests), no such alert: the dead-letter queue's alarm
    remains."""

    queue_max_receives: Json[dict[str, PositiveInt]] | None = None


class DeadLetterSettings(QueueConsumer):
    """What the dead-letter alert reads in any queue consumer (composition.queue_dead_letters)."""

    alerts_topic_arn: str | None = None  # Globals: every function's


class AuthorizerSettings(EnvSettings):
    api_keys_table: str
    # Each tier's rate in requests per second, as JSON: template.yaml passes its TierThrottle mapping, which the usage
    # plans' Throttle also reads. API Gateway enforces the plans; the authorizer only states the caller's rate.
    tier_rate_limits: Json[dict[Tier, PositiveFloat]]

    @field_validator("tier_rate_limits")
    @classmethod
    def _every_tier(cls, rates: dict[Tier, float]) -> dict[Tier, float]:
        missing = [tier.value for tier in Tier if tier not in rates]
        if missing:
            raise ValueError(f"no rate for {', '.join(missing)}")
        return rates

    @functools.cached_property
    def requests_per_minute(self) -> dict[Tier, int]:
        """Each tier's rate as the product states it, per minute (16.67 requests/s is 1,000 requests/min)."""
        return {tier: round(rate * 60) for tier, rate in self.tier_rate_limits.items()}


class ApiSettings(LeadResources, ModelResources, RecommendationJobResources, WebhookAttempts):
    stage: str
    events_queue_url: str  # interactions are accepted here and applied by the events function
    jobs_queue_url: str  # recommendation jobs are queued here and run by the recommendations_job function
    bulk_queue_url: str  # rescoring jobs (after a promotion) are queued here and run by the bulk_score function
    # the open leads a promotion rescores: no outcome, younger than this (training's LABEL_WINDOW_DAYS too)
    label_window_days: int = Field(LABEL_WINDOW_DAYS, ge=1, le=3650)
    training_queue_url: str  # training jobs are queued here and run by the training function
    monitor_queue_url: str  # monitoring jobs are queued here and run by the monitor function
    monitoring_table: str  # monitoring runs and each version's latest health
    webhook_rotation_grace: NonNegativeSeconds | None = None
    # Each tier's GraphQL cost bucket, as JSON: template.yaml passes its TierQueryCost mapping (tenants/query_budget).
    graphql_cost_budgets: Json[dict[Tier, CostBudget]]

    @field_validator("graphql_cost_budgets")
    @classmethod
    def _a_bucket_per_tier(cls, budgets: dict[Tier, CostBudget]) -> dict[Tier, CostBudget]:
        missing = [tier.value for tier in Tier if tier not in budgets]
        if missing:
            raise ValueError(f"no cost budget for {', '.join(missing)}")
        return budgets

    @property
    def webhooks(self) -> WebhookSettings:
        return self.webhook_policy(rotation_grace_seconds=self.webhook_rotation_grace)


class EventsSettings(LeadResources, ModelResources, QueueConsumer):
    idempotency_table: str
    # How long a message's idempotency record is kept: template.yaml sets it longer than the longest a message can
    # live (its queue's retention plus its dead-letter queue's, for a redrive), a test checks it.
    idempotency_expires_after: PositiveSeconds


class RecommendationsJobSettings(RecommendationJobResources, QueueConsumer):
    pass


class NotifySettings(WebhookAttempts, QueueConsumer):
    buyers_table: str
    notify_queue_url: str
    notify_dead_letter_queue_url: str
    alerts_topic_arn: str
    webhook_retry_schedule: Schedule | None = None
    webhook_retry_jitter: Jitter | None = None
    webhook_disable_after: PositiveSeconds | None = None

    @property
    def webhooks(self) -> WebhookSettings:
        return self.webhook_policy(
            retry_schedule=self.webhook_retry_schedule,
            retry_jitter=self.webhook_retry_jitter,
            disable_after_seconds=self.webhook_disable_after,
            notify_queue_url=self.notify_queue_url,
            notify_dead_letter_queue_url=self.notify_dead_letter_queue_url,
        )


class PublisherSettings(EnvSettings):
    """The publisher function: OutboxTable's stream -> the domain-events topic; what SNS refuses for good goes to
    its dead-letter queue with an alert."""

    domain_events_topic_arn: str
    publisher_dead_letter_queue_url: str
    alerts_topic_arn: str


class BulkSettings(ModelResources, QueueConsumer):
    """Where the bulk_score function reads and writes, and its tuning (defaults suit a 900 s, 2 GB function)."""

    jobs_table: str
    leads_table: str
    market_signals_table: str  # market signal files (market-signals/) are imported here
    outbox_table: str
    bulk_queue_url: str  # the function's own continuations
    time_margin_s: float = Field(60.0, alias="BULK_TIME_MARGIN_SECONDS", ge=0)  # checkpoint when less is left
    batch_rows: int = Field(5_000, alias="BULK_BATCH_ROWS", ge=1)
    # S3 needs >= 5 MiB but for the last part; the default is bulk/output.py's DEFAULT_PART_BYTES (a test checks).
    part_bytes: int = Field(8 << 20, alias="BULK_PART_BYTES", ge=1)
    checkpoint_every_s: float = Field(120.0, alias="BULK_CHECKPOINT_SECONDS", ge=0)  # periodic, at part boundaries
    write_threads: int = Field(4, alias="BULK_WRITE_THREADS", ge=1)  # concurrent BatchWriteItem callers
    job_ttl_days: int = Field(30, alias="BULK_JOB_TTL_DAYS", ge=1)  # JobsTable expires_at
    work_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()), alias="BULK_WORK_DIR")
    aggregates_table: str  # rescoring reads each open lead's behaviour totals
    # lead.score_changed per rescoring run at most (then one model.rescored says how many were left unannounced)
    rescore_event_cap: int = Field(100, alias="RESCORE_EVENT_CAP", ge=0)  # template.yaml: RescoreEventCap
    rescore_page_rows: int = Field(500, alias="RESCORE_PAGE_ROWS", ge=1, le=5_000)
    score_history_retention_days: int = Field(180, ge=1, le=3650)  # template.yaml: ScoreHistoryRetentionDays
    tenants_table: str  # the scheduled rescoring queues one job per tenant listed here; uploads' tenants exist here
    alerts_topic_arn: str  # an upload whose tenant cannot be established is refused with an alert
    label_window_days: int = Field(LABEL_WINDOW_DAYS, ge=1, le=3650)  # the open leads a scheduled rescoring reads


class TrainingSettings(LeadResources, ModelResources, QueueConsumer):
    """The training function: a tenant's stored history -> a candidate model, registered, compared, maybe promoted.
    Models and dataset snapshots go to the models bucket; the defaults are the issue's (Einstein's) thresholds."""

    jobs_table: str
    tenants_table: str
    training_queue_url: str  # the schedule's fan-out queues one job per tenant here
    bulk_queue_url: str  # an automatic promotion's rescoring is queued here (the bulk_score function runs it)
    promotion_min_auc_gain: float = Field(0.005, ge=0, le=1)  # a candidate must beat the serving AUC by this
    training_min_labelled: int = Field(1000, ge=2)
    training_min_conversions: int = Field(120, ge=1)
    label_window_days: int = Field(LABEL_WINDOW_DAYS, ge=1, le=3650)  # older than this without a conversion: lost
    training_threads: int = Field(2, ge=1, le=16)  # LightGBM's; Lambda gives one vCPU per 1,769 MB
    code_version: str | None = None  # the commit deployed, recorded in each model's lineage
    work_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()), alias="TRAINING_WORK_DIR")


class MonitorSettings(LeadResources, ModelResources, QueueConsumer):
    """The monitor function: a tenant's serving model and its shadow against their training baselines and the
    outcomes recorded in the window; alerts to the alerts topic; the tenant's policy may start a training job."""

    jobs_table: str
    tenants_table: str
    monitoring_table: str
    monitor_queue_url: str  # the schedule's fan-out queues one job per tenant here
    training_queue_url: str  # an alert's training job (the tenant's `retrain_on_alert`)
    alerts_topic_arn: str
    monitor_window_days: int = Field(7, ge=1, le=90)
    monitor_min_outcomes: int = Field(100, ge=1)  # below: "not enough outcomes"
    alert_auc_drop: float = Field(0.05, gt=0, le=1)  # live AUC this far below training's alerts
    monitor_retention_days: int = Field(365, ge=1, le=3650)  # how long runs are kept (history for charts)


FUNCTION_SETTINGS: dict[str, type[EnvSettings]] = {
    "api": ApiSettings,
    "authorizer": AuthorizerSettings,
    "bulk_score": BulkSettings,
    "events": EventsSettings,
    "notify": NotifySettings,
    "publisher": PublisherSettings,
    "recommendations_job": RecommendationsJobSettings,
    "training": TrainingSettings,
    "monitor": MonitorSettings,
}
