"""The REST API in-process: routes, validation messages, the error envelope and request ids (fake stores)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from aiqleads.api import context
from aiqleads.api.app import app, handle
from aiqleads.errors import PayloadTooLarge
from aiqleads.leads.service import MAX_BATCH, LeadService
from tests.api_client import call
from tests.fakes import memory_lead_service

LEAD: dict[str, Any] = {
    "id": "zl-88213",
    "source": "zillow",
    "created_at": "2026-11-20T10:00:00Z",
    "contact": {"name": "Ana Diaz", "email": "Ana@Example.com ", "phone": "+1 702 555 0100"},
    "property": {"type": "single_family", "price": 425000, "beds": 3, "baths": 2, "sqft": 1800, "market": "las-vegas"},
    "intent": "sell",
    "timeline": "0-3 months",
    "description": "Motivated seller, relocating",
}


@pytest.fixture
def service() -> Iterator[LeadService]:
    fake = memory_lead_service()
    app.dependency_overrides[context.leads] = lambda: fake
    yield fake
    app.dependency_overrides.clear()


def test_create_lead_scores_stores_and_announces(service: LeadService) -> None:
    status, headers, body = call("POST", "/v1/leads", LEAD)
    assert status == 201
    assert headers["Location"] == "/v1/leads/zl-88213"
    assert body["lead_id"] == "zl-88213"
    assert 0 <= body["probability"] <= 1
    assert body["grade"] in "ABCD"
    assert body["reasons"]
    assert all(r["direction"] in ("up", "down") for r in body["reasons"])
    stored = service.leads.get("t1", "zl-88213")
    assert stored.lead.contact.email == "ana@example.com"  # cleaned on the way in
    (event,) = service.leads.outbox.published  # type: ignore[attr-defined]
    assert event.type == "lead.scored"
    assert event.tenant_id == "t1"
    assert event.data["score"] == body["score"]


def test_duplicate_lead_is_409_and_changes_nothing(service: LeadService) -> None:
    call("POST", "/v1/leads", LEAD)
    status, _, body = call("POST", "/v1/leads", {**LEAD, "intent": "buy"})
    assert status == 409
    assert body["error"]["code"] == "conflict"
    assert service.leads.get("t1", "zl-88213").lead.intent.value == "sell"


def test_validation_errors_name_every_field(service: LeadService) -> None:
    bad = {**LEAD, "property": {**LEAD["property"], "price": -5, "type": "castle"}, "contact": {"phone": "12"}}
    status, _, body = call("POST", "/v1/leads", bad)
    assert status == 422
    fields = {detail["field"] for detail in body["error"]["details"]}
    assert {"property.price", "property.type", "contact.phone"} <= fields
    castle = next(d for d in body["error"]["details"] if d["field"] == "property.type")
    assert "single_family" in castle["message"]  # the allowed values are in the message


def test_tenant_in_body_is_rejected(service: LeadService) -> None:
    status, _, body = call("POST", "/v1/leads", {**LEAD, "tenant_id": "someone-else"})
    assert status == 422
    assert body["error"]["details"][0]["field"] == "tenant_id"


def test_invalid_json_is_400(service: LeadService) -> None:
    status, headers, body = call("POST", "/v1/leads", raw="{not json")
    assert status == 400
    assert body["error"]["code"] == "invalid_json"
    assert headers["X-Request-ID"] == "req-123"


def test_request_id_is_echoed_from_the_caller(service: LeadService) -> None:
    _, headers, _ = call("GET", "/v1/health", headers={"X-Request-ID": "trace-42"})
    assert headers["X-Request-ID"] == "trace-42"


def test_batch_reports_each_item(service: LeadService) -> None:
    items = [{**LEAD, "id": "a"}, {**LEAD, "id": "b", "intent": "rent"}, {**LEAD, "id": "a"}, "not an object"]
    status, _, body = call("POST", "/v1/leads/batch", {"leads": items[:3]})
    assert status == 200
    assert [item["status"] for item in body["data"]] == [201, 422, 409]
    assert body["data"][1]["error"]["details"][0]["field"] == "intent"
    assert body["meta"] == {"created": 1, "failed": 2}
    assert service.leads.get("t1", "b") is None
    assert [event.data["lead_id"] for event in service.leads.outbox.published] == ["a"]  # type: ignore[attr-defined]


def test_batch_over_the_limit_is_413(service: LeadService) -> None:
    status, _, body = call("POST", "/v1/leads/batch", {"leads": [{**LEAD, "id": f"x{i}"} for i in range(501)]})
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"


def test_the_batch_limit_is_the_services_and_the_limit_itself_is_allowed(service: LeadService) -> None:
    assert MAX_BATCH == 500
    with pytest.raises(PayloadTooLarge) as caught:
        service.ingest_many("t1", [LEAD] * (MAX_BATCH + 1))
    assert caught.value.status == 413
    assert caught.value.details == {"max": MAX_BATCH}
    status, _, body = call("POST", "/v1/leads/batch", {"leads": [{**LEAD, "id": f"x{i}"} for i in range(MAX_BATCH)]})
    assert status == 200
    assert body["meta"] == {"created": MAX_BATCH, "failed": 0}


def test_other_tenants_leads_are_invisible(service: LeadService) -> None:
    call("POST", "/v1/leads", LEAD, tenant="t1")
    status, _, body = call("GET", "/v1/leads/zl-88213", tenant="t2")
    assert status == 404
    assert body["error"]["code"] == "not_found"
    assert call("GET", "/v1/leads/zl-88213", tenant="t1")[0] == 200


def test_score_without_storing(service: LeadService) -> None:
    status, _, body = call("POST", "/v1/leads/score", LEAD)
    assert status == 200
    assert body["lead_id"] == "zl-88213"
    assert service.leads.get("t1", "zl-88213") is None
    assert call("GET", "/v1/leads/zl-88213/score")[0] == 404


def test_events_are_queued_for_known_leads_only(service: LeadService) -> None:
    call("POST", "/v1/leads", LEAD)
    event = {"lead_id": "zl-88213", "actor": "buyer-1", "action": "inquiry", "timestamp": "2026-11-21T10:00:00Z"}
    status, _, body = call("POST", "/v1/events", {"events": [event]})
    assert status == 202
    assert body["accepted"] == 1
    (queued,) = service.interactions_queue.sent  # type: ignore[union-attr]
    assert queued["tenant_id"] == "t1"
    assert queued["event_id"] == body["event_ids"][0]
    status, _, body = call("POST", "/v1/events", {"events": [{**event, "lead_id": "nope"}]})
    assert status == 404
    assert body["error"]["details"]["unknown_lead_ids"] == ["nope"]


def test_conversions_are_recorded(service: LeadService) -> None:
    call("POST", "/v1/leads", LEAD)
    status, _, body = call("POST", "/v1/conversions", {"conversions": [
        {"lead_id": "zl-88213", "outcome": "converted", "at": "2026-11-25T00:00:00Z"}]})  # fmt: skip
    assert status == 201
    assert body == {"recorded": 1}
    _, _, stored = call("GET", "/v1/leads/zl-88213")
    assert stored["conversions"][0]["outcome"] == "converted"


def test_missing_authorizer_context_is_401(service: LeadService) -> None:
    status, _, body = call("GET", "/v1/leads/x", tenant=None)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_unknown_route_is_404_in_the_envelope(service: LeadService) -> None:
    status, _, body = call("GET", "/v1/nothing-here")
    assert status == 404
    assert body["error"]["code"] == "not_found"


def test_openapi_document_lists_the_routes(service: LeadService) -> None:
    status, _, body = call("GET", "/v1/openapi.json")
    assert status == 200
    assert {"/v1/leads", "/v1/leads/batch", "/v1/leads/{lead_id}", "/v1/events"} <= set(body["paths"])
    assert "Lead" in body["components"]["schemas"]


def test_a_body_that_is_not_json_text_is_a_client_error(service: LeadService) -> None:
    binary = {  # API Gateway hands over a body that is not UTF-8 text base64-encoded
        "resource": "/v1/leads", "path": "/v1/leads", "httpMethod": "POST",
        "headers": {"content-type": "application/json"}, "multiValueHeaders": {}, "queryStringParameters": None,
        "pathParameters": None, "requestContext": {"requestId": "r", "authorizer": {"tenant_id": "t1"}},
        "body": base64.b64encode(b"\x03\xff\x04").decode(), "isBase64Encoded": True,
    }  # fmt: skip
    response = handle(binary, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "invalid_json"
    status, _, body = call("POST", "/v1/leads", LEAD, headers={"content-type": "text/plain"})
    assert status == 415
    assert body["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("media_type", ["multipart/form-data", "application/x-www-form-urlencoded", "text/csv"])
def test_bodies_that_are_not_json_get_415(service: LeadService, media_type: str) -> None:
    status, headers, body = call("POST", "/v1/leads", LEAD, headers={"content-type": media_type})
    assert status == 415
    assert body["error"]["code"] == "unsupported_media_type"
    assert headers["X-Request-ID"] == "req-123"
