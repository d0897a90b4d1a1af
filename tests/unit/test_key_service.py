"""Tenant onboarding and the key life cycle (`aiqleads.tenants.service`), on in-memory stores: what an operator
and a caller see when a key is issued, revoked, rotated and retired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aiqleads.errors import InvalidInput
from aiqleads.models import Tier
from aiqleads.tenants.api_keys import ApiKeyRecord, Role, authorize, hash_key
from aiqleads.tenants.service import (
    KeyNotActive,
    KeyService,
    Tenant,
    TenantExists,
    UnknownKey,
    UnknownTenant,
)

RATES = {Tier.BASIC: 60, Tier.PRO: 300, Tier.ENTERPRISE: 1000}
ARN = "arn:aws:execute-api:us-east-1:123456789012:abc/dev/GET/v1/leads/x"


class Tenants:
    def __init__(self) -> None:
        self.items: dict[str, Tenant] = {}

    def get(self, tenant_id: str) -> Tenant | None:
        return self.items.get(tenant_id)

    def create(self, tenant: Tenant) -> bool:
        return self.items.setdefault(tenant.tenant_id, tenant) is tenant

    def save(self, tenant: Tenant) -> None:
        self.items[tenant.tenant_id] = tenant


class Keys:
    def __init__(self, fail_puts: bool = False) -> None:
        self.items: dict[str, ApiKeyRecord] = {}
        self.fail_puts = fail_puts

    def get(self, key_hash: str) -> ApiKeyRecord | None:
        return self.items.get(key_hash)

    def put(self, record: ApiKeyRecord) -> None:
        if self.fail_puts:
            raise ConnectionError("table unavailable")
        self.items[record.key_hash] = record

    def by_key_id(self, key_id: str) -> ApiKeyRecord | None:
        return next((r for r in self.items.values() if r.key_id == key_id), None)

    def retiring(self) -> list[ApiKeyRecord]:
        return [r for r in self.items.values() if r.status == "active" and r.expires_at is not None]


class Registry:
    """API Gateway's keys: id -> (value, tier, enabled)."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, Tier, bool]] = {}

    def register(self, api_key: str, tier: Tier, name: str) -> str:
        key_id = f"gw{len(self.keys) + 1}"
        self.keys[key_id] = (api_key, tier, True)
        return key_id

    def disable(self, key_id: str) -> None:
        value, tier, _ = self.keys[key_id]
        self.keys[key_id] = (value, tier, False)

    def admits(self, api_key: str) -> bool:
        return any(value == api_key and enabled for value, _, enabled in self.keys.values())


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(clock: Clock) -> KeyService:
    keys = KeyService(Tenants(), Keys(), Registry(), clock=clock)
    keys.create_tenant("acme-realty", "Acme Realty")
    return keys


def registry(service: KeyService) -> Registry:
    assert isinstance(service.registry, Registry)
    return service.registry


def accepted(service: KeyService, api_key: str, clock: Clock) -> bool:
    """Both checks a request passes in AWS: the authorizer, then API Gateway's usage-plan key."""
    try:
        authorize(service.keys, api_key, ARN, RATES, now=clock.now)
    except PermissionError:
        return False
    return registry(service).admits(api_key)


def test_a_tenant_is_created_once_with_a_slug_for_its_id(service: KeyService) -> None:
    with pytest.raises(TenantExists, match="exists already"):
        service.create_tenant("acme-realty")
    assert service.create_tenant(" Lone-Star ").tenant_id == "lone-star"
    with pytest.raises(InvalidInput, match="must be a slug"):
        service.create_tenant("not a slug!")
    assert service.ensure_tenant("acme-realty").name == "Acme Realty"


def test_keys_are_issued_only_to_known_tenants(service: KeyService) -> None:
    with pytest.raises(UnknownTenant, match="create it first"):
        service.issue("nobody", Tier.PRO)
    assert registry(service).keys == {}


def test_an_issued_key_is_registered_in_api_gateway_and_the_table_and_carries_its_role(
    service: KeyService, clock: Clock
) -> None:
    issued = service.issue("acme-realty", Tier.PRO, Role.ADMIN)
    assert registry(service).keys[issued.key_id] == (issued.api_key, Tier.PRO, True)
    stored = service.keys.get(hash_key(issued.api_key))
    assert stored is not None
    assert issued.api_key not in stored.model_dump_json()  # only its hash is kept
    answer = authorize(service.keys, issued.api_key, ARN, RATES, now=clock.now)
    assert answer["context"] == {
        "tenant_id": "acme-realty",
        "tier": "pro",
        "role": "admin",
        "key_id": issued.key_id,
        "requests_per_minute": 300,
    }
    assert answer["usageIdentifierKey"] == issued.api_key
    member = service.issue("acme-realty", Tier.BASIC)
    assert authorize(service.keys, member.api_key, ARN, RATES)["context"]["role"] == "member"


def test_a_key_the_table_refuses_is_disabled_in_api_gateway_again(clock: Clock) -> None:
    service = KeyService(Tenants(), Keys(fail_puts=True), Registry(), clock=clock)
    service.tenants.create(Tenant(tenant_id="acme-realty"))
    with pytest.raises(ConnectionError):
        service.issue("acme-realty", Tier.PRO)
    assert [enabled for _, _, enabled in registry(service).keys.values()] == [False]


def test_a_revoked_key_is_refused_by_both(service: KeyService, clock: Clock) -> None:
    issued = service.issue("acme-realty", Tier.ENTERPRISE)
    assert accepted(service, issued.api_key, clock)
    assert service.revoke(issued.key_id).status == "revoked"
    with pytest.raises(PermissionError):
        authorize(service.keys, issued.api_key, ARN, RATES, now=clock.now)
    assert not registry(service).admits(issued.api_key)
    assert service.revoke(issued.key_id).status == "revoked"  # again: nothing changes
    with pytest.raises(UnknownKey):
        service.revoke("no-such-id")


def test_rotation_keeps_the_old_key_for_the_grace_period_then_retires_it(service: KeyService, clock: Clock) -> None:
    old = service.issue("acme-realty", Tier.PRO, Role.ADMIN)
    new, retiring = service.rotate(old.key_id, timedelta(hours=24))
    assert (new.record.tenant_id, new.record.tier, new.record.role) == ("acme-realty", Tier.PRO, Role.ADMIN)
    assert retiring.expires_at == clock.now + timedelta(hours=24)
    assert retiring.replaced_by == new.key_id

    clock.now += timedelta(hours=23, minutes=59)
    assert accepted(service, old.api_key, clock)
    assert accepted(service, new.api_key, clock)
    assert service.sweep() == []  # still in its grace period

    clock.now += timedelta(minutes=1)
    with pytest.raises(PermissionError):  # the authorizer refuses it from the end of the grace period
        authorize(service.keys, old.api_key, ARN, RATES, now=clock.now)
    assert registry(service).admits(old.api_key)  # until a sweep disables it in API Gateway
    assert [record.key_id for record in service.sweep()] == [old.key_id]
    assert not registry(service).admits(old.api_key)
    assert accepted(service, new.api_key, clock)
    assert service.sweep() == []


def test_a_key_is_rotated_once_and_never_when_revoked(service: KeyService) -> None:
    old = service.issue("acme-realty", Tier.BASIC)
    service.rotate(old.key_id)
    with pytest.raises(KeyNotActive, match="rotated already"):
        service.rotate(old.key_id)
    revoked = service.issue("acme-realty", Tier.BASIC)
    service.revoke(revoked.key_id)
    with pytest.raises(KeyNotActive, match="revoked"):
        service.rotate(revoked.key_id)


def test_rotation_without_grace_retires_the_old_key_at_once(service: KeyService, clock: Clock) -> None:
    old = service.issue("acme-realty", Tier.BASIC)
    new, _ = service.rotate(old.key_id, timedelta(0))
    assert not accepted(service, old.api_key, clock)
    assert accepted(service, new.api_key, clock)
