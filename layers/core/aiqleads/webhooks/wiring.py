"""The notifier and the subscriptions service, built from the environment (per batch / per request, so a
changed environment, e.g. the local cloud's compressed schedule, applies at once; clients are cached)."""

from __future__ import annotations

from aiqleads.settings import SettingsError
from aiqleads.storage.alerts import AlertPublisher
from aiqleads.storage.messaging import QueueSender
from aiqleads.storage.webhooks import WebhookRepository
from aiqleads.webhooks.delivery import Notifier
from aiqleads.webhooks.service import WebhookService
from aiqleads.webhooks.settings import WebhookSettings


def _require(settings: WebhookSettings, *names: str) -> WebhookSettings:
    missing = [name.upper() for name in names if not getattr(settings, name)]
    if missing:
        raise SettingsError(f"missing environment variables: {', '.join(missing)}")
    return settings


def notifier(settings: WebhookSettings | None = None) -> Notifier:
    settings = _require(
        settings or WebhookSettings.from_env(),
        "buyers_table",
        "notify_queue_url",
        "notify_dead_letter_queue_url",
        "alerts_topic_arn",
    )
    return Notifier(
        WebhookRepository(settings.buyers_table),
        QueueSender(settings.notify_queue_url),
        QueueSender(settings.notify_dead_letter_queue_url),
        AlertPublisher(settings.alerts_topic_arn),
        settings,
    )


def webhook_service(settings: WebhookSettings | None = None) -> WebhookService:
    settings = _require(settings or WebhookSettings.from_env(), "buyers_table")
    return WebhookService(WebhookRepository(settings.buyers_table), settings)
