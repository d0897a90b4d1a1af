"""Where the deployed resources are: read from the environment when a handler first needs them.

template.yaml sets the same variables for every function (Globals); the local cloud sets them to its own
resource names. Reading them per call (not at import) lets tests and the local cloud configure a process after
importing the handlers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict


class SettingsError(RuntimeError):
    """A required environment variable is missing."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    stage: str = "dev"
    leads_table: str = ""
    aggregates_table: str = ""
    market_signals_table: str = ""
    buyers_table: str = ""
    api_keys_table: str = ""
    idempotency_table: str = ""
    jobs_table: str = ""
    uploads_bucket: str = ""
    domain_events_topic_arn: str = ""
    alerts_topic_arn: str = ""
    bulk_queue_url: str = ""
    events_queue_url: str = ""
    notify_queue_url: str = ""
    jobs_queue_url: str = ""
    # How long a process reuses a market's candidate list (recommendations/candidate_cache.py); 0 turns it off.
    candidate_cache_seconds: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values = {name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ}
        return cls.model_validate(values)

    def require(self, *names: str) -> Settings:
        """Fail with every missing variable named, instead of a confusing AWS error later."""
        missing = [name.upper() for name in names if not getattr(self, name)]
        if missing:
            raise SettingsError(f"missing environment variables: {', '.join(missing)}")
        return self
