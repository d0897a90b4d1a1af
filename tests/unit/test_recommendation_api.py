"""The buyers, recommendations, jobs and models routes in-process, on in-memory stores."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from aiqleads.api import context
from aiqleads.api.app import app
from aiqleads.recommendations.card import LeadCard
from aiqleads.recommendations.jobs import RecommendationJobs
from aiqleads.recommendations.ranking import Candidate
from aiqleads.recommendations.service import RecommendationService
from tests.api_client import call
from tests.fakes import MemoryEvents, MemoryJobs
from tests.recommendation_fakes import MemoryCandidates, MemoryMarketplace
from tests.registry_fakes import memory_registry

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
BUYER = {"name": "Rosa", "tier": "pro", "authorised_markets": ["las-vegas", "austin"],
         "preferences": {"property_types": ["condo"], "price_max": 500000}}  # fmt: skip


class Recorder:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.objects: dict[str, bytes] = {}

    def send(self, body: dict[str, Any], delay_seconds: int = 0, attributes: dict[str, str] | None = None) -> str:
        self.sent.append(body)
        return "m1"

    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str | None = None) -> None:
        self.objects[key] = body


@pytest.fixture
def wired() -> Iterator[tuple[RecommendationService, RecommendationJobs, Recorder]]:
    candidates = MemoryCandidates()
    for index in range(60):
        market = ["las-vegas", "austin", "phoenix"][index % 3]
        card = LeadCard(source=["zillow", "fsbo"][index % 2], property_type="condo", price=300_000.0,
                        created_at="2026-11-25T00:00:00Z", intent="buy", timeline="asap", has_email=True,
                        has_phone=True, has_name=True, disposable_email=False, role_email=False,
                        suspicious_phone=False, completeness=0.9)  # fmt: skip
        candidates.add("t1", Candidate(f"lead-{index:02d}", market, 0.9 - index / 100, 90 - index, "A", "2.0.0", card))
    service = RecommendationService(MemoryMarketplace(candidates), candidates, clock=lambda: NOW)
    recorder = Recorder()
    jobs = RecommendationJobs(
        service, MemoryJobs(), recorder, recorder, MemoryEvents(), "bucket", clock=lambda: NOW.timestamp()
    )
    app.dependency_overrides[context.recommendations] = lambda: service
    app.dependency_overrides[context.recommendation_jobs] = lambda: jobs
    registry = memory_registry()
    app.dependency_overrides[context.models] = lambda: registry
    yield service, jobs, recorder
    app.dependency_overrides.clear()


def test_buyer_profile_round_trip(wired: Any) -> None:
    status, headers, body = call("PUT", "/v1/buyers/b1", BUYER)
    assert status == 201
    assert headers["Location"] == "/v1/buyers/b1"
    assert call("PUT", "/v1/buyers/b1", BUYER)[0] == 200
    status, _, body = call("GET", "/v1/buyers/b1")
    assert status == 200
    assert body["authorised_markets"] == ["las-vegas", "austin"]
    assert call("GET", "/v1/buyers/b1", tenant="t2")[0] == 404  # tenant-scoped
    status, _, body = call("PUT", "/v1/buyers/b2", {**BUYER, "tier": "gold"})
    assert status == 422
    assert body["error"]["details"][0]["field"] == "tier"


def test_pages_purchases_feedback(wired: Any) -> None:
    call("PUT", "/v1/buyers/b1", BUYER)
    status, _, page = call("GET", "/v1/recommendations", query={"buyer_id": "b1", "limit": "5"})
    assert status == 200, page
    assert [r["rank"] for r in page["data"]] == [1, 2, 3, 4, 5]
    assert {r["market"] for r in page["data"]} <= {"las-vegas", "austin"}  # pro tier, authorised markets
    first = page["data"][0]
    assert first["actions"][0]["priority"] == "high"
    assert first["insights"]
    assert first["metadata"]["features_used"]
    status, _, two = call("GET", "/v1/recommendations",
                          query={"buyer_id": "b1", "limit": "5", "cursor": page["meta"]["next_cursor"]})  # fmt: skip
    assert status == 200
    assert two["data"][0]["rank"] == 6
    assert not {r["lead_id"] for r in two["data"]} & {r["lead_id"] for r in page["data"]}
    status, _, one = call("GET", f"/v1/recommendations/{first['id']}")
    assert status == 200
    assert one["model_version"] == "2.0.0"
    assert one["metadata"]["confidence"] == 0.9
    status, _, fb = call("PATCH", f"/v1/recommendations/{first['id']}", {"accuracy": 4, "status": "contacted"})
    assert status == 200
    assert fb["feedback"]["status"] == "contacted"
    assert call("PATCH", f"/v1/recommendations/{first['id']}", {})[0] == 422
    assert call("GET", "/v1/recommendations/rec_bogus")[0] == 404
    status, _, bought = call("POST", "/v1/buyers/b1/purchases", {"lead_id": first["lead_id"], "exclusive": True})
    assert status == 201
    assert bought["exclusive"] is True
    assert call("POST", "/v1/buyers/b1/purchases", {"lead_id": first["lead_id"]})[0] == 409
    status, _, again = call("GET", "/v1/recommendations", query={"buyer_id": "b1", "limit": "5"})
    assert first["lead_id"] not in {r["lead_id"] for r in again["data"]}
    assert call("POST", "/v1/buyers/b1/purchases", {"lead_id": "lead-02"})[0] == 403  # phoenix: not authorised


def test_cursor_tampering_and_rules(wired: Any) -> None:
    call("PUT", "/v1/buyers/b1", BUYER)
    _, _, page = call("GET", "/v1/recommendations", query={"buyer_id": "b1", "limit": "5"})
    token = page["meta"]["next_cursor"]
    raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw["p"] = 7
    forged = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
    for bad in (forged, "not-a-cursor", token[:-3]):
        status, _, body = call("GET", "/v1/recommendations", query={"buyer_id": "b1", "limit": "5", "cursor": bad})
        assert status == 400
        assert body["error"]["code"] == "invalid_cursor"
    status, _, body = call("GET", "/v1/recommendations", query={"buyer_id": "b1", "limit": "6", "cursor": token})
    assert status == 400
    assert "another query" in body["error"]["message"]
    assert call("GET", "/v1/recommendations", query={"buyer_id": "b1", "market": "phoenix"})[0] == 403
    assert call("GET", "/v1/recommendations", query={"buyer_id": "b1", "limit": "0"})[0] == 422
    assert call("GET", "/v1/recommendations", query={"buyer_id": "b1", "limit": "80"})[0] == 422  # pro: 50
    assert call("GET", "/v1/recommendations", query={"buyer_id": "nobody"})[0] == 404


def test_generate_job_and_models(wired: Any) -> None:
    _service, jobs, recorder = wired
    call("PUT", "/v1/buyers/b1", BUYER)
    status, headers, accepted = call("POST", "/v1/recommendations/generate", {"buyer_ids": ["b1", "ghost"], "limit": 3})
    assert status == 202
    assert headers["Location"] == accepted["status_url"]
    status, _, job = call("GET", f"/v1/jobs/{accepted['job_id']}")
    assert status == 200
    assert job["status"] == "queued"
    assert job["progress"]["total"] == 2
    (message,) = recorder.sent
    assert jobs.run(message["tenant_id"], message["job_id"], owner="w1") == "completed"
    status, _, job = call("GET", f"/v1/jobs/{accepted['job_id']}")
    assert job["status"] == "completed"
    assert job["result"]["key"].startswith("results/recommendations/")
    lines = [json.loads(line) for line in recorder.objects[job["result"]["key"]].decode().splitlines()]
    assert len(lines[0]["data"]) == 3
    assert lines[1]["error"]["code"] == "not_found"
    assert jobs.run(message["tenant_id"], message["job_id"], owner="w2") == "skipped"
    assert jobs.events.published[-1].type == "recommendations.ready"  # type: ignore[attr-defined]
    assert call("GET", "/v1/jobs/nope")[0] == 404
    status, _, models = call("GET", "/v1/models")
    assert status == 200
    assert models["serving"] == "2.0.0"
    assert models["data"][0]["metrics"]["roc_auc"] > 0.7
    assert models["data"][0]["aliases"] == ["production"]  # the global default, the tenant's production
    assert models["data"][0]["training_rows"] == 197_978
