"""Market signals in-process: the admin role, PUT/GET of a snapshot, rows validated like leads, the upload routing,
and that one tenant's snapshot never moves another tenant's scores (in-memory stores)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from aiqleads.api import context
from aiqleads.api.app import app
from aiqleads.bulk.requests import UploadRequest, parse_message, tenant_for
from aiqleads.leads.service import LeadService
from aiqleads.markets.imports import result_keys
from aiqleads.markets.service import COLUMNS, MarketSignalService
from aiqleads.models import Lead, MarketSnapshot, Tier
from aiqleads.tenants.api_keys import ApiKeyRecord, Role, authorize, hash_key
from tests.api_client import call
from tests.fakes import MemoryMarkets, memory_lead_service

SIGNALS: dict[str, Any] = {
    "median_price": 612_000,
    "inventory": 900,
    "days_on_market": 9,
    "views": 120_000,
    "inquiries": 9_000,
    "offers": 700,
    "price_trend": 0.12,
}
LEAD = Lead.model_validate(
    {
        "id": "l-1",
        "source": "zillow",
        "created_at": "2026-11-20T10:00:00Z",
        "contact": {"email": "ana@example.com"},
        "property": {"type": "condo", "price": 425000, "market": "austin"},
        "intent": "sell",
        "timeline": "asap",
    }
)


@pytest.fixture
def stores() -> Iterator[tuple[LeadService, MarketSignalService]]:
    """The API's wiring in memory: scoring and the market routes share one market store, as in composition."""
    leads = memory_lead_service()
    markets = MarketSignalService(leads.markets)  # type: ignore[arg-type]
    app.dependency_overrides[context.leads] = lambda: leads
    app.dependency_overrides[context.markets] = lambda: markets
    yield leads, markets
    app.dependency_overrides.clear()


# ------------------------------------------------------------------------------------------------ the admin role
@pytest.mark.parametrize("role", [None, "member", "owner"])
def test_member_keys_may_not_write_market_data(stores: Any, role: str | None) -> None:
    status, _, body = call("PUT", "/v1/markets/austin/snapshots/2026-11", SIGNALS, role=role)
    assert status == 403
    assert body["error"]["code"] == "forbidden"
    assert "admin" in body["error"]["message"]
    assert body["error"]["details"] == {"role": "member", "required_role": "admin"}
    assert call("GET", "/v1/markets/austin/snapshots/2026-11", role=role)[0] == 404  # nothing was written


def test_the_authorizer_passes_the_keys_role() -> None:
    key, member = ApiKeyRecord.issue("acme", Tier.PRO)
    admin = member.model_copy(update={"role": Role.ADMIN, "key_hash": hash_key(key + "a")})
    records = {member.key_hash: member, admin.key_hash: admin}

    class Keys:
        def get(self, key_hash: str) -> ApiKeyRecord | None:
            return records.get(key_hash)

    arn = "arn:aws:execute-api:us-east-1:123456789012:abc/dev/PUT/v1/markets/austin/snapshots/2026-11"
    rates = dict.fromkeys(Tier, 60)
    assert member.role == "member"  # the default: keys issued before roles are members
    assert authorize(Keys(), key, arn, rates)["context"]["role"] == "member"
    assert authorize(Keys(), key + "a", arn, rates)["context"]["role"] == "admin"


# ------------------------------------------------------------------------------------------------ PUT / GET
def test_admin_puts_a_snapshot_then_replaces_it(stores: Any) -> None:
    status, headers, body = call("PUT", "/v1/markets/austin/snapshots/2026-11", SIGNALS, role="admin")
    assert status == 201
    assert headers["Location"] == "/v1/markets/austin/snapshots/2026-11"
    assert body == {"market": "austin", "period": "2026-11", **SIGNALS}
    status, _, body = call("PUT", "/v1/markets/Austin/snapshots/2026-11", {"median_price": 1, "inventory": 2,
                                                                           "days_on_market": 3}, role="admin")  # fmt: skip
    assert status == 200  # replaced; the market slug is normalised as everywhere
    assert body["views"] == 0  # defaults for what the body leaves out
    status, _, got = call("GET", "/v1/markets/austin/snapshots/2026-11")  # a member key may read
    assert (status, got) == (200, body)
    call("PUT", "/v1/markets/austin/snapshots/2026-09", SIGNALS, role="admin")
    assert call("GET", "/v1/markets/austin/snapshots/latest")[2]["period"] == "2026-11"
    status, _, missing = call("GET", "/v1/markets/austin/snapshots/2026-01")
    assert (status, missing["error"]["code"]) == (404, "not_found")


def test_invalid_path_and_body_are_422_naming_each_field(stores: Any) -> None:
    status, _, body = call("PUT", "/v1/markets/austin/snapshots/2026-11", {**SIGNALS, "median_price": -1,
                                                                           "inventory": "many"}, role="admin")  # fmt: skip
    assert status == 422
    assert {d["field"] for d in body["error"]["details"]} == {"median_price", "inventory"}
    status, _, body = call("PUT", "/v1/markets/no%20slug!/snapshots/2026-13", SIGNALS, role="admin")
    assert status == 422
    assert {d["field"] for d in body["error"]["details"]} == {"market", "period"}
    status, _, body = call("PUT", "/v1/markets/austin/snapshots/2026-11", {**SIGNALS, "market": "reno"}, role="admin")
    assert status == 422  # the market comes from the path only
    assert body["error"]["details"][0]["field"] == "market"
    status, _, body = call("PUT", "/v1/markets/austin/snapshots/2026-11", raw="{", role="admin")
    assert (status, body["error"]["code"]) == (400, "invalid_json")


def test_a_tenants_snapshot_moves_only_its_own_scores(stores: Any) -> None:
    leads, _ = stores
    before_a, before_b = leads.score("tenant-a", LEAD), leads.score("tenant-b", LEAD)
    assert call("PUT", "/v1/markets/austin/snapshots/2026-11", SIGNALS, tenant="tenant-a", role="admin")[0] == 201
    after_a, after_b = leads.score("tenant-a", LEAD), leads.score("tenant-b", LEAD)
    assert after_a.probability != before_a.probability  # the tenant's own scores use its snapshot
    assert after_b == before_b  # the other tenant's do not
    assert call("GET", "/v1/markets/austin/snapshots/2026-11", tenant="tenant-b")[0] == 404


# ------------------------------------------------------------------------------------------------ rows (files)
def test_rows_are_validated_like_leads_and_the_good_ones_stored() -> None:
    store = MemoryMarkets()
    service = MarketSignalService(store)
    text = {k: str(v) for k, v in SIGNALS.items()}
    rows = [
        {"market": "austin", "period": "2026-10", **text},
        {"market": "austin", "period": "2026-13", **text, "median_price": "-5"},  # two bad fields
        {"market": "Reno", "period": "2026-11", "median_price": "350000", "inventory": "40", "days_on_market": "20",
         "views": "", "price_trend": " "},  # blank cells are absent: the defaults apply
        {"market": "austin", "period": "2026-10", **text, "offers": "1"},  # replaces the first row
        {"period": "2026-11", **text},
    ]  # fmt: skip
    loaded = service.load_rows("acme", rows)
    assert (loaded.rows, loaded.stored, loaded.invalid, loaded.superseded) == (5, 2, 2, 1)
    assert loaded.latest == {"austin": "2026-10", "reno": "2026-11"}
    assert [(e["row"], e["field"]) for e in loaded.errors] == [(2, "period"), (2, "median_price"), (5, "market")]
    assert loaded.errors[1]["value"] == "-5"
    assert store.get("acme", "austin", "2026-10") == MarketSnapshot.model_validate(
        {"market": "austin", "period": "2026-10", **SIGNALS, "offers": 1}
    )
    reno = store.get("acme", "reno", "2026-11")
    assert reno is not None
    assert (reno.views, reno.price_trend) == (0, 0.0)
    assert store.latest("other", "austin") is None  # stored for that tenant only
    assert ("market", "period", *SIGNALS) == COLUMNS  # the documented column order


def test_market_signal_uploads_are_routed_by_prefix() -> None:
    def notification(key: str) -> str:
        record = {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": key}}}
        return json.dumps({"Records": [record]})

    (request,) = parse_message(notification("market-signals/acme/nov.csv"))
    assert request == UploadRequest("b", "market-signals/acme/nov.csv", kind="market_signals")
    (lead_file,) = parse_message(notification("uploads/acme/nov.csv"))
    assert isinstance(lead_file, UploadRequest)
    assert lead_file.kind == "leads"
    assert parse_message(notification("results/market-signals/acme/nov.report.json")) == []
    assert tenant_for("market-signals/acme/nov.csv", {}) == "acme"
    assert tenant_for("market-signals/nov.csv", {"tenant-id": "zeta"}) == "zeta"
    assert tenant_for("market-signals/nov.csv", {}) is None
    assert result_keys("market-signals/acme/nov.csv") == (
        "results/market-signals/acme/nov.report.json",
        "results/market-signals/acme/nov.errors.jsonl",
    )
