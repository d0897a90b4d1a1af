"""Bounds on what a client sends, in-process: nesting depth, attribute sizes, the id alphabet, decoded path
parameters, DynamoDB's item limit and response headers that any HTTP server can send."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from botocore.exceptions import ClientError

from aiqleads.api import context
from aiqleads.api.app import app
from aiqleads.api.limits import MAX_JSON_DEPTH, json_depth
from aiqleads.features.spec import default_spec
from aiqleads.leads.service import LeadService
from aiqleads.models import ATTRIBUTES_MAX_BYTES, ATTRIBUTES_MAX_KEYS, ID_PATTERN
from aiqleads.validation.columnar import validate_batch
from tests.api_client import call
from tests.fakes import memory_lead_service
from tests.unit.test_api import LEAD

BULK_ROW = {"id": "", "source": "zillow", "market": "las-vegas", "intent": "sell", "email": "ana@example.com"}


@pytest.fixture
def service() -> Iterator[LeadService]:
    fake = memory_lead_service()
    app.dependency_overrides[context.leads] = lambda: fake
    yield fake
    app.dependency_overrides.clear()


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth('"\\"[[["') == 0
    assert json_depth("[" * 100_000) == 100_000  # iterative: no recursion limit


@pytest.mark.parametrize("route", ["/v1/leads", "/v1/leads/batch", "/v1/events", "/v1/graphql", "/v1/webhooks"])
def test_a_deeply_nested_body_is_400_on_every_route_and_names_the_limit(service: LeadService, route: str) -> None:
    status, _, body = call("POST", route, raw='{"leads": ' + "[" * 5000 + "]" * 5000 + "}")
    assert status == 400
    assert body["error"]["code"] == "too_deeply_nested"
    assert f"at most {MAX_JSON_DEPTH}" in body["error"]["message"]
    assert body["error"]["details"][0]["field"] == "body"


def test_nesting_up_to_the_limit_reaches_validation(service: LeadService) -> None:
    nested: Any = 1
    for _ in range(MAX_JSON_DEPTH - 2):
        nested = [nested]
    status, _, body = call("POST", "/v1/leads", {**LEAD, "attributes": {"x": nested}})
    assert status == 422
    assert body["error"]["details"][0]["field"].startswith("attributes.x")


@pytest.mark.parametrize(
    ("attributes", "field", "words"),
    [
        ({str(i): i for i in range(ATTRIBUTES_MAX_KEYS + 1)}, "attributes", f"at most {ATTRIBUTES_MAX_KEYS} items"),
        ({"k" * 65: 1}, "attributes.", "at most 64 characters"),
        ({"k": "v" * 1001}, "attributes.k", "at most 1000 characters"),
        ({str(i): "\U0001f600" * 999 for i in range(40)}, "attributes", f"at most {ATTRIBUTES_MAX_BYTES} bytes"),
    ],
)
def test_attributes_are_bounded_with_the_field_and_the_limit_named(
    service: LeadService, attributes: dict[str, Any], field: str, words: str
) -> None:
    status, _, body = call("POST", "/v1/leads", {**LEAD, "attributes": attributes})
    assert status == 422
    assert any(d["field"].startswith(field) and words in d["message"] for d in body["error"]["details"])
    assert service.leads.get("t1", LEAD["id"]) is None


@pytest.mark.parametrize("raw", ['{"x": NaN}', '{"x": Infinity}', '{"x": 1e400}'])
def test_nan_and_infinities_are_refused(service: LeadService, raw: str) -> None:
    status, _, body = call("POST", "/v1/leads", raw=json.dumps(LEAD)[:-1] + ', "attributes": ' + raw + "}")
    assert status == 422
    assert any("finite" in d["message"] for d in body["error"]["details"])


@pytest.mark.parametrize("lead_id", ["a#b", "lead-é", "a/b", "a%2Fb", "a b", "-lead", "x" * 129, "\U0001f600"])
def test_ids_outside_the_alphabet_are_refused_at_creation(service: LeadService, lead_id: str) -> None:
    status, _, body = call("POST", "/v1/leads", {**LEAD, "id": lead_id})
    assert status == 422
    assert body["error"]["details"][0]["field"] == "id"
    status, _, body = call("POST", "/v1/leads/batch", {"leads": [{**LEAD, "id": lead_id}]})
    assert (status, body["data"][0]["status"]) == (200, 422)


def test_every_accepted_id_reads_back_percent_encoded_or_not(service: LeadService) -> None:
    status, headers, _ = call("POST", "/v1/leads", {**LEAD, "id": "a.b:C_1-2"})
    assert status == 201
    assert headers["Location"] == "/v1/leads/a.b:C_1-2"
    for path in ("/v1/leads/a.b:C_1-2", "/v1/leads/a%2Eb%3AC_1-2", "/v1/leads/a%2eb%3aC%5F1-2"):
        status, _, body = call("GET", path)
        assert (status, body["lead"]["id"]) == (200, "a.b:C_1-2"), path


@pytest.mark.parametrize("path", ["/v1/leads/a%23b", "/v1/leads/lead-%C3%A9", "/v1/leads/a%2Fb", "/v1/buyers/%00"])
def test_a_path_id_outside_the_alphabet_is_422_in_the_envelope(service: LeadService, path: str) -> None:
    status, _, body = call("GET", path)
    assert status == 422
    assert ID_PATTERN in body["error"]["message"] or body["error"]["details"][0]["field"] in ("lead_id", "buyer_id")


def test_a_write_over_dynamodbs_item_limit_is_413_not_500(service: LeadService, monkeypatch: Any) -> None:
    error = ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled [ValidationException]"},
            "CancellationReasons": [{"Code": "ValidationException", "Message": "Item size has exceeded the maximum"}],
        },
        "TransactWriteItems",
    )

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(service.leads, "create", refuse)
    status, _, body = call("POST", "/v1/leads", LEAD)
    assert status == 413
    assert "400 KB" in body["error"]["message"]


@pytest.mark.parametrize("given", ["bad\u00e9id", "a" * 129, "x\x01y"])
def test_a_request_id_that_cannot_be_a_header_is_not_echoed(service: LeadService, given: str) -> None:
    _, headers, _ = call("GET", "/v1/leads/nope", headers={"X-Request-ID": given})
    assert headers["X-Request-ID"] == "req-123"


def test_a_bulk_row_with_an_id_outside_the_alphabet_is_a_reported_bad_row_and_the_rest_are_valid() -> None:
    rows = [{**BULK_ROW, "id": lead_id} for lead_id in ("ok-1", "a#b", "lead-\u00e9", "ok.2")]
    table = pa.Table.from_pylist(rows, schema=pa.schema([(name, pa.string()) for name in BULK_ROW]))
    batch = validate_batch(table, default_spec())
    assert batch.valid.tolist() == [True, False, False, True]
    assert {(error.row, error.field) for error in batch.errors} == {(1, "id"), (2, "id")}
    assert all("ASCII letters" in error.message for error in batch.errors)
