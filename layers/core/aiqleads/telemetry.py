"""The process's one Powertools `Metrics` and `Tracer`, and the few counts the domain reports through them.

Namespace and service come from the environment (POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME: each
function names itself in template.yaml), so the `service` dimension says which function counted. Handlers wrap
themselves in `tracer.capture_lambda_handler` and `metrics.log_metrics`, which flushes what was added here as one
CloudWatch EMF line at the end of the invocation.

Dimensions are only low-cardinality labels (service, path, grade): never a tenant, lead, email or any value a
caller chose, because every distinct combination is a billed custom metric and a dimension is visible to anyone
who can read the metrics.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider


@dataclass
class _Pending:
    """What a metric set collects until it is flushed."""

    metric_set: dict[str, Any] = field(default_factory=dict)
    dimension_set: dict[str, str] = field(default_factory=dict)
    dimension_sets: list[dict[str, str]] = field(default_factory=list)
    metadata_set: dict[str, Any] = field(default_factory=dict)
    timestamp: int | None = None


_scope: ContextVar[_Pending | None] = ContextVar("aiqleads_metrics_scope", default=None)


def _pending_field(name: str) -> Any:
    def get(provider: _ScopedProvider) -> Any:
        return getattr(_scope.get() or provider.process_pending, name)

    def put(provider: _ScopedProvider, value: Any) -> None:
        setattr(_scope.get() or provider.process_pending, name, value)

    return property(get, put)


class _ScopedProvider(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider, whose pending metrics are the process's (as in Lambda: one invocation at a time
    per process), or those of the `isolated()` block running in this context. The local cloud runs every function
    in one process, concurrently: each invocation isolated, a flush prints only what that invocation counted."""

    metric_set = _pending_field("metric_set")
    dimension_set = _pending_field("dimension_set")
    dimension_sets = _pending_field("dimension_sets")
    metadata_set = _pending_field("metadata_set")
    timestamp = _pending_field("timestamp")

    @property
    def process_pending(self) -> _Pending:
        pending: _Pending | None = self.__dict__.get("_process_pending")
        if pending is None:
            pending = self.__dict__["_process_pending"] = _Pending()
        return pending


@contextmanager
def isolated() -> Iterator[None]:
    """Metrics added in this block (in this thread or context) apart from any other's until flushed."""
    token = _scope.set(_Pending())
    try:
        yield
    finally:
        _scope.reset(token)


metrics = Metrics(provider=_ScopedProvider())
tracer = Tracer()


def configure_from_environment() -> None:
    """Namespace and service read again: the local cloud sets a new environment in a process that may have
    imported this module under another (in Lambda the environment never changes under a process)."""
    metrics.namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE")
    metrics.service = os.environ.get("POWERTOOLS_SERVICE_NAME")


PATHS = frozenset({"api", "batch", "bulk", "events", "rescoring"})


def enabled() -> bool:
    """Whether counts go anywhere: a namespace is configured (every function's is, in template.yaml). Without one
    (the offline CLI, unit tests) the helpers do nothing, so no domain call fails or prints for want of it."""
    return bool(metrics.namespace)


def leads_scored(path: str, grades: Iterable[Any]) -> None:
    """LeadsScored, one count per grade of `grades` (Grade members or their letters), with `path` and `grade` as
    dimensions: one EMF line per grade now, since a metric set has one set of dimensions."""
    if path not in PATHS:
        raise ValueError(f"unknown scoring path {path!r}")
    if not enabled():
        return
    counts = Counter(str(getattr(grade, "value", grade)) for grade in grades)
    for grade, count in sorted(counts.items()):
        with single_metric(
            name="LeadsScored",
            unit=MetricUnit.Count,
            value=count,
            namespace=metrics.namespace,
            default_dimensions=_service(),
        ) as metric:
            metric.add_dimension(name="path", value=path)
            metric.add_dimension(name="grade", value=grade)


def _service() -> dict[str, str]:
    service = metrics.service
    return {"service": service} if service else {}


def bulk_rows(rows: int, bad_rows: int) -> None:
    """A bulk batch read: its rows and how many of them were rejected."""
    if not enabled():
        return
    metrics.add_metric(name="BulkRows", unit=MetricUnit.Count, value=rows)
    metrics.add_metric(name="BulkBadRows", unit=MetricUnit.Count, value=bad_rows)


@contextmanager
def recommendation_request() -> Iterator[None]:
    """RecommendationRequests and RecommendationLatency (ms) of the page served inside the block."""
    started = time.perf_counter()
    try:
        yield
    finally:
        if enabled():
            elapsed_ms = (time.perf_counter() - started) * 1000
            metrics.add_metric(name="RecommendationRequests", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="RecommendationLatency", unit=MetricUnit.Milliseconds, value=elapsed_ms)


def webhook_attempt(delivered: bool, latency_ms: float) -> None:
    """One webhook attempt: WebhookDeliveries or WebhookFailures, and its WebhookLatency (ms)."""
    if not enabled():
        return
    metrics.add_metric(name="WebhookDeliveries" if delivered else "WebhookFailures", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="WebhookLatency", unit=MetricUnit.Milliseconds, value=latency_ms)


def queue_age(event: Mapping[str, Any], now_ms: float | None = None) -> None:
    """QueueAge (ms): how long each SQS record of `event` waited, from its SentTimestamp attribute (epoch ms) to
    now. Events without SQS records (schedules) add nothing."""
    if not enabled():
        return
    now = time.time() * 1000 if now_ms is None else now_ms
    for record in event.get("Records") or ():
        if not isinstance(record, Mapping) or record.get("eventSource") != "aws:sqs":
            continue
        sent: Any = (record.get("attributes") or {}).get("SentTimestamp")
        try:
            age = max(0.0, now - float(sent))
        except (TypeError, ValueError):
            continue
        metrics.add_metric(name="QueueAge", unit=MetricUnit.Milliseconds, value=age)


def model_figures(psi_max: float | None, live_auc: float | None, training_auc: float | None) -> None:
    """A monitoring run's figures: ModelPsiMax (the largest PSI of the run), ModelLiveAuc and ModelLiveAucDrop
    (training AUC minus live AUC); a figure the run could not compute (too few outcomes) is left out."""
    if not enabled():
        return
    if psi_max is not None:
        metrics.add_metric(name="ModelPsiMax", unit=MetricUnit.NoUnit, value=psi_max)
    if live_auc is not None:
        metrics.add_metric(name="ModelLiveAuc", unit=MetricUnit.NoUnit, value=live_auc)
        if training_auc is not None:
            metrics.add_metric(name="ModelLiveAucDrop", unit=MetricUnit.NoUnit, value=training_auc - live_auc)
