"""The data model cleans what it can, rejects what it cannot, and always names the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aiqleads.models import Buyer, Lead, MarketSnapshot, Timeline
from aiqleads.validation.flat import InvalidRow, lead_from_flat
from aiqleads.validation.grammar import normalize_phone
from infra.local_cloud.__main__ import EXAMPLE_LEAD

# The copy-paste example `make run` prints, with contact details that need cleaning.
WIRE_LEAD = {**EXAMPLE_LEAD, "contact": {"name": " Ana Diaz ", "email": "Ana@Example.COM", "phone": "+1 702 555 0100"}}


def _errors(payload: dict) -> dict[tuple, str]:
    with pytest.raises(ValidationError) as caught:
        Lead.model_validate(payload)
    return {tuple(e["loc"]): e["msg"] for e in caught.value.errors()}


def test_wire_format_lead_is_cleaned():
    lead = Lead.model_validate(WIRE_LEAD)
    assert lead.contact.name == "Ana Diaz"
    assert lead.contact.email == "ana@example.com"
    assert lead.contact.phone == "+17025550100"
    assert lead.timeline is Timeline.WITHIN_3_MONTHS
    assert lead.created_at is not None
    assert lead.created_at.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("(702) 555-0100", "+17025550100"),
        ("702.555.0100", "+17025550100"),
        ("1-702-555-0100", "+17025550100"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_formats_normalise_to_e164(text, e164):
    assert normalize_phone(text) == e164


@pytest.mark.parametrize("text", ["12345", "555-0100", "+1 102 555 0100", "call me", "+0 123 456 789"])
def test_unusable_phones_are_rejected(text):
    with pytest.raises(ValueError, match=r"E\.164"):
        normalize_phone(text)


def test_every_error_names_its_field_and_enums_list_allowed_values():
    payload = {
        **WIRE_LEAD,
        "intent": "rent",
        "contact": {"email": "nope", "phone": "123"},
        "property": {**WIRE_LEAD["property"], "type": "castle", "price": -5, "lat": 123.4},
    }
    errors = _errors(payload)
    assert "'buy' or 'sell'" in errors[("intent",)]
    assert "single_family" in errors[("property", "type")]
    assert "other" in errors[("property", "type")]
    assert "greater than or equal to 1000" in errors[("property", "price")]
    assert "less than or equal to 90" in errors[("property", "lat")]
    assert "email" in errors[("contact", "email")]
    assert "phone" in errors[("contact", "phone")]


def test_a_lead_must_be_reachable():
    errors = _errors({**WIRE_LEAD, "contact": {"name": "Ana"}})
    assert any("email or a phone" in message for message in errors.values())


def test_tenant_cannot_come_from_the_body():
    errors = _errors({**WIRE_LEAD, "tenant": "someone-else"})
    assert ("tenant",) in errors


def test_flat_row_errors_use_flat_column_names():
    with pytest.raises(InvalidRow) as caught:
        lead_from_flat(
            {
                "id": "1",
                "source": "zillow",
                "market": "las-vegas",
                "intent": "sell",
                "phone": "1",
                "property_type": "castle",
            }
        )
    fields = {e.field for e in caught.value.errors}
    assert fields == {"phone", "property_type"}


def test_flat_numbers_must_be_numbers():
    with pytest.raises(InvalidRow) as caught:
        lead_from_flat(
            {"id": "1", "source": "zillow", "market": "x", "intent": "sell", "email": "a@b.co", "price": "abc"}
        )
    assert [(e.field, e.message) for e in caught.value.errors] == [("price", "not a number")]


def test_other_models_validate():
    snapshot = MarketSnapshot(
        market="Austin", period="2026-10", median_price=550_000, inventory=4200, days_on_market=38
    )
    assert snapshot.market == "austin"
    with pytest.raises(ValidationError, match="price_min must not exceed price_max"):
        Buyer.model_validate({"id": "b1", "preferences": {"price_min": 500_000, "price_max": 100_000}})


@pytest.mark.parametrize("column", ["beds", "price", "lat"])
def test_numbers_too_large_for_a_float_are_not_numbers(column):
    row = {"id": "1", "source": "zillow", "market": "x", "intent": "sell", "email": "a@b.co", column: "1e400"}
    with pytest.raises(InvalidRow) as caught:
        lead_from_flat(row)
    assert [(e.field, e.message) for e in caught.value.errors] == [(column, "not a number")]
