"""API keys: issued once, stored as SHA-256, resolved to a tenant, tier and role for API Gateway's authorizer."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from aiqleads.models import Tier

KEY_PREFIX = "aiq_"


class Role(StrEnum):
    """What a key may do inside its tenant: admin keys may also call the admin-only routes."""

    ADMIN = "admin"
    MEMBER = "member"


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def new_api_key() -> str:
    """A key with 32 random bytes; the prefix lets secret scanners recognise a leaked one."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKeyRecord(BaseModel):
    key_hash: str
    # API Gateway's id of the same key: the public name operators revoke and rotate by (None: a key written to the
    # table alone, which API Gateway does not admit).
    key_id: str | None = None
    tenant_id: str
    tier: Tier
    role: Role = Role.MEMBER
    status: Literal["active", "revoked"] = "active"
    name: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    # Set when the key was rotated: it keeps working until then (the grace period), never after.
    expires_at: datetime | None = None
    replaced_by: str | None = None  # the key_id of the key that rotated this one out

    @classmethod
    def issue(cls, tenant_id: str, tier: Tier, name: str = "", *, role: Role = Role.MEMBER) -> tuple[str, ApiKeyRecord]:
        key = new_api_key()
        return key, cls(key_hash=hash_key(key), tenant_id=tenant_id, tier=tier, name=name, role=role)

    def usable(self, now: datetime) -> bool:
        return self.status == "active" and (self.expires_at is None or now < self.expires_at)


class ApiKeyLookup(Protocol):
    def get(self, key_hash: str) -> ApiKeyRecord | None: ...


def _api_wide(method_arn: str) -> str:
    """arn:...:<api>/<stage>/<METHOD>/<path> -> arn:...:<api>/<stage>/*: one cached policy serves every route."""
    prefix, _, rest = method_arn.partition(":execute-api:")
    parts = rest.split("/")
    return f"{prefix}:execute-api:{'/'.join(parts[:2])}/*" if len(parts) >= 2 else method_arn


def authorize(
    keys: ApiKeyLookup,
    token: str | None,
    method_arn: str,
    requests_per_minute: Mapping[Tier, int],
    now: datetime | None = None,
) -> dict[str, Any]:
    """The TOKEN authorizer's answer. An unknown, revoked or expired key raises 'Unauthorized' (API Gateway: 401).

    `requests_per_minute` is each tier's rate (the authorizer's settings), passed on so every response can state it.
    """
    record = keys.get(hash_key(token)) if token else None
    if record is None or not record.usable(now or datetime.now(UTC)):
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
            "role": record.role.value,
            "key_id": record.key_id or record.key_hash[:12],
            "requests_per_minute": requests_per_minute[record.tier],
        },
        # With ApiKeySourceType AUTHORIZER, API Gateway admits the request only if this value is an enabled API key
        # in a usage plan of the stage, and that plan throttles the caller (see tenants.service: issuing registers it).
        "usageIdentifierKey": token,
    }
