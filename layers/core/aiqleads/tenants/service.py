"""Tenant onboarding: tenants, and the API keys that both API Gateway and the authorizer accept.

A key works only when two systems agree: the authorizer finds its hash in ApiKeysTable (tenant, tier, role) and
API Gateway finds its value among the enabled API keys of a usage plan of the stage (with `ApiKeySourceType:
AUTHORIZER` it refuses anything else with 403). `KeyService` keeps them in step: issuing registers the key in its
tier's usage plan, then stores the record; revoking marks the record, then disables the API key; rotating issues a
new key and gives the old one an `expires_at` (the grace period), after which the authorizer refuses it and the next
`sweep` (every key command runs one) disables its API key too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, ValidationError

from aiqleads.errors import Conflict, InvalidInput, NotFound
from aiqleads.models import Slug, Tier
from aiqleads.tenants.api_keys import ApiKeyLookup, ApiKeyRecord, Role, hash_key, new_api_key
from aiqleads.validation.fields import field_errors, summary
from aiqleads.validation.grammar import normalize_slug

DEFAULT_ROTATION_GRACE = timedelta(hours=24)


Challengers = Literal["keep", "shadow"]
DEFAULT_HALF_LIFE_DAYS = 30.0


class Tenant(BaseModel):
    tenant_id: Slug
    name: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    # A trained candidate that does not beat the serving model: registered only, or made the shadow.
    challengers: Challengers = "keep"
    # Engagement fades: a stored interaction counts half after this many days, in the tenant's next model.
    engagement_half_life_days: float = Field(default=DEFAULT_HALF_LIFE_DAYS, gt=0, le=365)
    # A monitoring alert (drift, performance, calibration) also starts a training job on the tenant's history.
    retrain_on_alert: bool = False


CONFIGURABLE = frozenset({"name", "challengers", "engagement_half_life_days", "retrain_on_alert"})


class IssuedKey(BaseModel):
    """The one time a key is seen in full: shown to the operator, never stored."""

    api_key: str
    key_id: str
    record: ApiKeyRecord


class UnknownTenant(NotFound):
    code = "unknown_tenant"


class TenantExists(Conflict):
    code = "tenant_exists"


class UnknownKey(NotFound):
    code = "unknown_key"


class KeyNotActive(Conflict):
    code = "key_not_active"


def tenant_slug(text: str) -> str:
    """A tenant id as stored (tenants are named like markets: lower-case slugs), or InvalidInput."""
    try:
        return normalize_slug(text.strip())
    except ValueError as error:
        raise InvalidInput(f"tenant id {text!r} {error}") from None


# ------------------------------------------------------------------------------------------------ ports


class TenantStore(Protocol):
    def get(self, tenant_id: str) -> Tenant | None: ...

    def create(self, tenant: Tenant) -> bool:
        """Store a new tenant; False (and nothing written) if one with that id exists."""
        ...

    def save(self, tenant: Tenant) -> None:
        """Replace an existing tenant's record (its configuration changed)."""
        ...


class ApiKeyStore(ApiKeyLookup, Protocol):
    def put(self, record: ApiKeyRecord) -> None: ...

    def by_key_id(self, key_id: str) -> ApiKeyRecord | None: ...

    def retiring(self) -> list[ApiKeyRecord]:
        """Active records with an `expires_at` (rotated out, in or past their grace period)."""
        ...


class KeyRegistry(Protocol):
    """The API keys API Gateway admits: each an enabled API key in its tier's usage plan."""

    def register(self, api_key: str, tier: Tier, name: str) -> str:
        """Create the API key with this value in `tier`'s usage plan; its id."""
        ...

    def disable(self, key_id: str) -> None: ...


# ------------------------------------------------------------------------------------------------ the service


class KeyService:
    def __init__(
        self,
        tenants: TenantStore,
        keys: ApiKeyStore,
        registry: KeyRegistry,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.tenants = tenants
        self.keys = keys
        self.registry = registry
        self.clock = clock

    def create_tenant(self, tenant_id: str, name: str = "") -> Tenant:
        tenant = Tenant(tenant_id=tenant_slug(tenant_id), name=name, created_at=self.clock())
        if not self.tenants.create(tenant):
            raise TenantExists(f"tenant {tenant.tenant_id!r} exists already")
        return tenant

    def configure_tenant(self, tenant_id: str, changes: dict[str, Any]) -> Tenant:
        """The tenant with these settings changed (`challengers`, `engagement_half_life_days`, `name`); each
        value is checked as the tenant model checks it, and a bad one changes nothing."""
        tenant_id = tenant_slug(tenant_id)
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            raise UnknownTenant(f"no tenant {tenant_id!r}: create it first (aiqleads tenants create {tenant_id})")
        unknown = sorted(set(changes) - CONFIGURABLE)
        if unknown:
            raise InvalidInput(f"not a tenant setting: {', '.join(unknown)}", {"settings": sorted(CONFIGURABLE)})
        try:
            configured = Tenant.model_validate(tenant.model_dump() | changes)
        except ValidationError as error:
            details = field_errors(error)
            raise InvalidInput(summary(details), details) from None
        self.tenants.save(configured)
        return configured

    def ensure_tenant(self, tenant_id: str, name: str = "") -> Tenant:
        """The tenant, created if missing (for seeding scripts that run more than once)."""
        return self.tenants.get(tenant_slug(tenant_id)) or self.create_tenant(tenant_id, name)

    def issue(self, tenant_id: str, tier: Tier, role: Role = Role.MEMBER, name: str = "") -> IssuedKey:
        tenant_id = tenant_slug(tenant_id)
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            raise UnknownTenant(f"no tenant {tenant_id!r}: create it first (aiqleads tenants create {tenant_id})")
        api_key = new_api_key()
        label = name or f"{tenant.tenant_id} {tier.value} {role.value}"
        # API Gateway first: until the record exists the authorizer refuses the key (401), so a failure between the
        # two steps leaves a key nobody can use, never one the authorizer accepts and API Gateway does not know.
        key_id = self.registry.register(api_key, tier, f"{tenant.tenant_id}/{label}"[:1024])
        record = ApiKeyRecord(
            key_hash=hash_key(api_key),
            key_id=key_id,
            tenant_id=tenant.tenant_id,
            tier=tier,
            role=role,
            name=label,
            created_at=self.clock(),
        )
        try:
            self.keys.put(record)
        except BaseException:
            self.registry.disable(key_id)
            raise
        return IssuedKey(api_key=api_key, key_id=key_id, record=record)

    def _record(self, key_id: str) -> ApiKeyRecord:
        record = self.keys.by_key_id(key_id)
        if record is None:
            raise UnknownKey(f"no API key with id {key_id!r}")
        return record

    def revoke(self, key_id: str) -> ApiKeyRecord:
        """Refused by the authorizer from its next authorization, and by API Gateway once it sees the disabled
        key. Revoking a revoked key changes nothing."""
        record = self._record(key_id)
        revoked = record.model_copy(update={"status": "revoked"})
        if record.status != "revoked":
            self.keys.put(revoked)
        self.registry.disable(key_id)
        return revoked

    def rotate(self, key_id: str, grace: timedelta = DEFAULT_ROTATION_GRACE) -> tuple[IssuedKey, ApiKeyRecord]:
        """A new key for the same tenant, tier and role; the old one works until now + `grace`. The new key and
        the old record (with its `expires_at`)."""
        old = self._record(key_id)
        now = self.clock()
        if not old.usable(now):
            raise KeyNotActive(f"API key {key_id} is {'revoked' if old.status == 'revoked' else 'expired'}")
        if old.expires_at is not None:
            raise KeyNotActive(f"API key {key_id} was rotated already (by {old.replaced_by})")
        issued = self.issue(old.tenant_id, old.tier, old.role, name=old.name)
        retiring = old.model_copy(update={"expires_at": now + grace, "replaced_by": issued.key_id})
        self.keys.put(retiring)
        if grace <= timedelta(0):
            self.sweep()
        return issued, retiring

    def sweep(self) -> list[ApiKeyRecord]:
        """Retire every key whose grace period is over: its record revoked, its API key disabled. The authorizer
        refuses such a key already; this closes it in API Gateway too. The records it retired."""
        now = self.clock()
        retired = []
        for record in self.keys.retiring():
            if record.expires_at is not None and record.expires_at <= now:
                if record.key_id is not None:
                    self.registry.disable(record.key_id)
                revoked = record.model_copy(update={"status": "revoked"})
                self.keys.put(revoked)
                retired.append(revoked)
        return retired
