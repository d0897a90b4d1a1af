"""API keys: issued once, stored as SHA-256, resolved to a tenant and tier for API Gateway's authorizer."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from aiqleads.models import Tier

KEY_PREFIX = "aiq_"
# Each tier's rate in requests per second, as a JSON object: template.yaml passes its TierThrottle mapping, which
# the usage plans' Throttle also reads. API Gateway enforces the plans; the authorizer passes the caller's rate to
# the API so that every response can state it.
TIER_RATE_LIMITS_ENV = "TIER_RATE_LIMITS"


def requests_per_minute(tier: Tier) -> int:
    """The tier's rate as the product states it, per minute (16.67 requests/s is 1,000 requests/min)."""
    return _per_minute(os.environ.get(TIER_RATE_LIMITS_ENV, ""))[tier]


@functools.cache
def _per_minute(limits: str) -> dict[Tier, int]:
    if not limits:
        raise RuntimeError(f"{TIER_RATE_LIMITS_ENV} is not set: template.yaml gives it to the authorizer function")
    per_second = json.loads(limits)
    return {tier: round(float(per_second[tier.value]) * 60) for tier in Tier}


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def new_api_key() -> str:
    """A key with 32 random bytes; the prefix lets secret scanners recognise a leaked one."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKeyRecord(BaseModel):
    key_hash: str
    tenant_id: str
    tier: Tier
    status: Literal["active", "revoked"] = "active"
    name: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def issue(cls, tenant_id: str, tier: Tier, name: str = "") -> tuple[str, ApiKeyRecord]:
        key = new_api_key()
        return key, cls(key_hash=hash_key(key), tenant_id=tenant_id, tier=tier, name=name)


class ApiKeyLookup(Protocol):
    def get(self, key_hash: str) -> ApiKeyRecord | None: ...


def _api_wide(method_arn: str) -> str:
    """arn:...:<api>/<stage>/<METHOD>/<path> -> arn:...:<api>/<stage>/*: one cached policy serves every route."""
    prefix, _, rest = method_arn.partition(":execute-api:")
    parts = rest.split("/")
    return f"{prefix}:execute-api:{'/'.join(parts[:2])}/*" if len(parts) >= 2 else method_arn


def authorize(keys: ApiKeyLookup, token: str | None, method_arn: str) -> dict[str, Any]:
    """The TOKEN authorizer's answer. An unknown or revoked key raises 'Unauthorized' (API Gateway: 401)."""
    record = keys.get(hash_key(token)) if token else None
    if record is None or record.status != "active":
        raise PermissionError("Unauthorized")
    return {
        "principalId": record.tenant_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": _api_wide(method_arn)}],
        },
        # API Gateway passes these to the integration as requestContext.authorizer (strings, numbers, booleans).
        "context": {
            "tenant_id": record.tenant_id,
            "tier": record.tier.value,
            "key_id": record.key_hash[:12],
            "requests_per_minute": requests_per_minute(record.tier),
        },
        # With ApiKeySourceType AUTHORIZER, the usage plan that throttles the caller is the one holding this key.
        "usageIdentifierKey": token,
    }
