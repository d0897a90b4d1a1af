"""API keys: issued once, stored as SHA-256, resolved to a tenant and tier for API Gateway's authorizer."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from aiqleads.models import Tier

KEY_PREFIX = "aiq_"


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
    role: Literal["admin", "member"] = "member"
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


def authorize(
    keys: ApiKeyLookup, token: str | None, method_arn: str, requests_per_minute: Mapping[Tier, int]
) -> dict[str, Any]:
    """The TOKEN authorizer's answer. An unknown or revoked key raises 'Unauthorized' (API Gateway: 401).

    `requests_per_minute` is each tier's rate (the authorizer's settings), passed on so every response can state it.
    """
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
            "role": record.role,
            "key_id": record.key_hash[:12],
            "requests_per_minute": requests_per_minute[record.tier],
        },
        # With ApiKeySourceType AUTHORIZER, the usage plan that throttles the caller is the one holding this key.
        "usageIdentifierKey": token,
    }
