"""Recommendation ids: one per buyer and lead, so GET/PATCH find the stored item without an index.

`rec_` + base64url("<buyer id>\\n<lead id>"): opaque to clients, decoded by the API (the tenant comes from the key).
"""

from __future__ import annotations

import base64
import binascii

from aiqleads.errors import NotFound


def recommendation_id(buyer_id: str, lead_id: str) -> str:
    raw = f"{buyer_id}\n{lead_id}".encode()
    return "rec_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_recommendation_id(rec_id: str) -> tuple[str, str]:
    """(buyer id, lead id); NotFound for anything this API did not issue."""
    try:
        if not rec_id.startswith("rec_"):
            raise ValueError(rec_id)
        body = rec_id[4:]
        buyer_id, lead_id = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().split("\n")
        if not buyer_id or not lead_id:
            raise ValueError(rec_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise NotFound(f"no recommendation {rec_id!r}", {"id": rec_id}) from None
    return buyer_id, lead_id
