"""The key registry on API Gateway and the tables, against a moto server: what `aiqleads keys` writes is what the
local API server (and API Gateway) reads back."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiqleads.models import Tier
from aiqleads.storage.api_keys import ApiKeyRepository
from aiqleads.storage.aws import client
from aiqleads.storage.gateway_keys import GatewayKeyRegistry
from aiqleads.storage.tenants import TenantRepository
from aiqleads.tenants.api_keys import ApiKeyRecord, Role
from aiqleads.tenants.service import KeyService
from infra.local_cloud.gateway import ApiKeyCache, api_gateway_lookup
from infra.local_cloud.resources import LocalResources, create_resources

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@pytest.fixture
def resources(local_aws: None, moto_server: str) -> LocalResources:
    return create_resources(moto_server, TEMPLATE)


@pytest.fixture
def service(resources: LocalResources) -> KeyService:
    plans = {Tier(tier): plan for tier, plan in resources.usage_plans.items()}
    return KeyService(
        TenantRepository(resources.ref("TenantsTable")),
        ApiKeyRepository(resources.ref("ApiKeysTable")),
        GatewayKeyRegistry(plans),
    )


def test_the_templates_usage_plans_exist_in_api_gateway(resources: LocalResources) -> None:
    plans = {plan["id"]: plan for plan in client("apigateway").get_usage_plans()["items"]}
    assert set(resources.usage_plans) == {"basic", "pro", "enterprise"}
    pro = plans[resources.usage_plans["pro"]]
    assert pro["name"] == "aiqleads-local-pro"
    assert pro["throttle"] == {"rateLimit": 5.0, "burstLimit": 20}


def test_an_issued_key_is_an_enabled_api_key_of_its_tiers_plan_until_revoked(
    resources: LocalResources, service: KeyService
) -> None:
    service.create_tenant("acme-realty")
    issued = service.issue("acme-realty", Tier.PRO, Role.ADMIN)
    lookup = api_gateway_lookup(client("apigateway"), resources.usage_plans.values())
    assert lookup(issued.api_key) == resources.usage_plans["pro"]
    assert service.keys.by_key_id(issued.key_id) == issued.record  # type: ignore[attr-defined]

    service.revoke(issued.key_id)
    assert lookup(issued.api_key) is None
    assert service.keys.by_key_id(issued.key_id).status == "revoked"  # type: ignore[attr-defined,union-attr]


def test_a_key_in_no_plan_of_the_stage_is_not_admitted(resources: LocalResources) -> None:
    apigateway = client("apigateway")
    elsewhere = apigateway.create_usage_plan(name="another-api")["id"]
    key = apigateway.create_api_key(name="k", value="aiq_" + "x" * 40, enabled=True)["id"]
    apigateway.create_usage_plan_key(usagePlanId=elsewhere, keyId=key, keyType="API_KEY")
    lookup = api_gateway_lookup(apigateway, resources.usage_plans.values())
    assert lookup("aiq_" + "x" * 40) is None
    assert lookup("aiq_never-issued") is None


def test_tenants_are_created_once_and_retiring_keys_found(resources: LocalResources) -> None:
    from aiqleads.tenants.service import Tenant

    tenants = TenantRepository(resources.ref("TenantsTable"))
    assert tenants.create(Tenant(tenant_id="acme-realty", name="Acme"))
    assert not tenants.create(Tenant(tenant_id="acme-realty", name="Other"))
    assert tenants.get("acme-realty").name == "Acme"  # type: ignore[union-attr]
    assert tenants.get("nobody") is None

    keys = ApiKeyRepository(resources.ref("ApiKeysTable"))
    _, plain = ApiKeyRecord.issue("acme-realty", Tier.BASIC)
    _, rotated = ApiKeyRecord.issue("acme-realty", Tier.BASIC)
    rotated = rotated.model_copy(update={"key_id": "k2", "expires_at": rotated.created_at})
    keys.put(plain)
    keys.put(rotated)
    assert keys.retiring() == [rotated]


def test_the_gateway_reads_api_gateway_at_most_once_per_key_per_period() -> None:
    calls: list[str] = []
    now = [100.0]

    def lookup(value: str) -> str | None:
        calls.append(value)
        return "plan" if value == "known" else None

    cache = ApiKeyCache(lookup, ttl=5, clock=lambda: now[0])
    assert [cache.plan_of("known"), cache.plan_of("known"), cache.plan_of("other")] == ["plan", "plan", None]
    assert calls == ["known", "other"]
    now[0] += 5
    assert cache.plan_of("known") == "plan"
    assert calls == ["known", "other", "known"]  # a change in API Gateway is seen within ttl
