"""A lead's card: what ranking, fraud checks, insights and actions need, small enough to live on the score item.

The ScoreIndex projects every attribute, so one Query per market returns candidates ready to rank; no second
read of the lead. The card holds flags, not the contact itself: no PII is copied onto the index.

Fraud signal (documented rules, weights in the tenant's `FraudRules`): red flags derived from the stored lead
- `disposable_email`: the email's domain is a known throwaway service (mailinator, guerrillamail, ...);
- `role_email`: a role mailbox (info@, admin@, noreply@, ...) rather than a person;
- `suspicious_phone`: a fictional 555-01xx number, one digit repeated, or an ascending run (1234567...);
- `no_email`, `no_phone`, `no_name`: missing contact fields (a lead needs one of email/phone to be stored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiqleads.models import Lead

DISPOSABLE_DOMAINS = frozenset(
    {
        "mailinator.com", "guerrillamail.com", "guerrillamail.net", "10minutemail.com", "tempmail.com",
        "temp-mail.org", "throwawaymail.com", "yopmail.com", "trashmail.com", "sharklasers.com", "getnada.com",
        "dispostable.com", "maildrop.cc", "fakeinbox.com", "mintemail.com", "mailnesia.com", "spamgourmet.com",
        "emailondeck.com", "moakt.com", "burnermail.io",
    }
)  # fmt: skip
ROLE_MAILBOXES = frozenset({"info", "admin", "noreply", "no-reply", "sales", "support", "contact", "test", "office"})
_FICTIONAL = re.compile(r"^\+1\d{3}55501\d{2}$")


def suspicious_phone(phone: str | None) -> bool:
    if not phone:
        return False
    digits = phone.lstrip("+")
    local = digits[-7:]
    if _FICTIONAL.match(phone) or len(set(local)) == 1:
        return True
    return local in "0123456789" or local in "9876543210"


@dataclass(frozen=True, slots=True)
class LeadCard:
    source: str
    property_type: str | None
    price: float | None
    created_at: str  # ISO 8601, UTC
    intent: str
    timeline: str
    has_email: bool
    has_phone: bool
    has_name: bool
    disposable_email: bool
    role_email: bool
    suspicious_phone: bool
    completeness: float  # share of the lead's descriptive fields that are filled in

    @classmethod
    def of(cls, lead: Lead) -> LeadCard:
        email = lead.contact.email or ""
        local, _, domain = email.partition("@")
        prop = lead.property
        filled = [
            lead.contact.name,
            lead.contact.email,
            lead.contact.phone,
            prop.type,
            prop.price,
            prop.beds,
            prop.sqft,
            prop.lat,
            lead.description,
            None if lead.timeline.value == "unknown" else lead.timeline,
        ]
        created = (lead.created_at or datetime.now(UTC)).astimezone(UTC)
        return cls(
            source=lead.source,
            property_type=prop.type.value if prop.type else None,
            price=prop.price,
            created_at=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            intent=lead.intent.value,
            timeline=lead.timeline.value,
            has_email=bool(email),
            has_phone=bool(lead.contact.phone),
            has_name=bool(lead.contact.name),
            disposable_email=domain in DISPOSABLE_DOMAINS,
            role_email=local in ROLE_MAILBOXES,
            suspicious_phone=suspicious_phone(lead.contact.phone),
            completeness=round(sum(value is not None for value in filled) / len(filled), 3),
        )

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeadCard:
        return cls(**{name: data[name] for name in cls.__slots__})
