"""No personal data in any log line or metric: the main flows run through the local cloud with distinctive
contacts (API ingest, a refused lead, a batch, a bulk upload with a bad row, an interaction event, a webhook
delivered to a receiver on 127.0.0.1), then every line of every function's log (Logger records and EMF metrics)
is searched for their emails, phone numbers (E.164, bare digits and the usual national forms) and names. API keys
are secrets of the same kind: every key the flows used (each demo key, both tenants', and one nobody issued, which
the authorizer refuses) must appear in no log line, raw or as the SHA-256 ApiKeysTable stores (whole, or the
12-character prefix the authorizer names a key by when API Gateway has no id for it)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_backbone import LEAD, api
from tests.integration.test_observability import emf, wait_for

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:6]
MARKET = f"it-pii-{RUN}"


def _contact(n: int, first: str, last: str) -> dict[str, str]:
    """A contact nobody else's data could contain: names from no generator list, a 702-555-01xx number."""
    return {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}.{RUN}@pii-probe.example",
        "phone": f"+1702555{n:04d}",
    }


CONTACTS = {
    "api": _contact(171, "Zebulon", "Quillfeather"),
    "refused": _contact(172, "Philippa", "Thistlewaite"),  # its lead is refused (bad price): the 422 path
    "batch": _contact(173, "Octavian", "Brambleworth"),
    "bulk": _contact(174, "Wilhelmina", "Fenwhistle"),
    "bulk_bad": _contact(175, "Barnaby", "Crumblehorn"),  # a row the bulk job rejects
}


def phone_forms(e164: str) -> list[str]:
    """+17025550171 as people and systems write it: E.164, digits with and without the country code, (702)
    555-0171, 702-555-0171, 702.555.0171, 702 555 0171, +1 702 555 0171, +1-702-555-0171."""
    digits = e164.removeprefix("+1")
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    return [
        e164,
        e164[1:],
        digits,
        f"({area}) {exchange}-{line}",
        f"{area}-{exchange}-{line}",
        f"{area}.{exchange}.{line}",
        f"{area} {exchange} {line}",
        f"+1 {area} {exchange} {line}",
        f"+1-{area}-{exchange}-{line}",
    ]


def forbidden() -> dict[str, str]:
    """Each needle (lower case) with what it is."""
    needles: dict[str, str] = {}
    for flow, contact in CONTACTS.items():
        needles[contact["email"].lower()] = f"{flow} email"
        needles[contact["email"].split("@")[0].lower()] = f"{flow} email's local part"
        needles[contact["name"].lower()] = f"{flow} name"
        for part in contact["name"].split():
            needles[part.lower()] = f"{flow} name ({part})"
        for form in phone_forms(contact["phone"]):
            needles[form.lower()] = f"{flow} phone ({form})"
    return needles


UNKNOWN_KEY = f"aiq_never-issued-{uuid.uuid4().hex}"


def api_keys(info: dict[str, Any]) -> list[str]:
    """Every API key the local cloud published (.aiqleads/local.json), and one it never issued."""
    named = [info[name] for name in ("api_key", "admin_api_key", "other_tenant_api_key", "other_tenant_admin_api_key")]
    return sorted({*named, *info["api_keys"].values(), UNKNOWN_KEY})


def key_needles(info: dict[str, Any]) -> dict[str, str]:
    needles: dict[str, str] = {}
    for number, key in enumerate(api_keys(info)):
        digest = hashlib.sha256(key.encode()).hexdigest()
        needles[key.lower()] = f"API key #{number}"
        needles[digest] = f"API key #{number}'s SHA-256"
        needles[digest[:12]] = f"API key #{number}'s SHA-256 prefix"
    return needles


def _use_every_key(info: dict[str, Any]) -> None:
    """A REST and a GraphQL request with each key: the authorizer, the API and GraphQL's cost budget see them."""
    for key in api_keys(info):
        admitted = {401} if key == UNKNOWN_KEY else {200, 404}  # 404: the other tenant's keys do not see it
        assert api(info, "GET", f"/v1/leads/{lead('api')['id']}", key=key)[0] in admitted
        query = {"query": "{ models { version } }"}
        assert api(info, "POST", "/v1/graphql", query, key=key)[0] == (401 if key == UNKNOWN_KEY else 200)


def lead(flow: str, **changes: Any) -> dict[str, Any]:
    contact = CONTACTS[flow]
    return {
        **LEAD,
        "id": f"it-pii-{flow.replace('_', '-')}-{RUN}",
        "contact": {"name": contact["name"], "email": contact["email"], "phone": contact["phone"]},
        "property": {**LEAD["property"], "market": MARKET},
        **changes,
    }


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[str]]]:
    """A webhook receiver on 127.0.0.1 that accepts everything; yields its URL and the bodies it got."""
    bodies: list[str] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            with lock:
                bodies.append(body)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", bodies
    server.shutdown()
    server.server_close()


def _bulk_csv() -> bytes:
    header = ["id", "source", "created_at", "name", "email", "phone", "property_type", "price", "beds", "baths",
              "sqft", "lat", "lon", "market", "intent", "timeline", "description"]  # fmt: skip
    rows = []
    for flow, price in (("bulk", "389000"), ("bulk_bad", "not-a-price")):
        contact = CONTACTS[flow]
        rows.append([f"it-pii-{flow.replace('_', '-')}-{RUN}", "zillow", "2026-11-20T10:00:00Z", contact["name"],
                     contact["email"], contact["phone"], "single_family", price, "3", "2", "1700", "36.17",
                     "-115.14", MARKET, "sell", "0-3 months", "Relocating for work"])  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def test_no_email_phone_or_name_in_any_log_line_or_metric(
    running_info: dict[str, Any], running_aws: Callable[[str], Any], receiver: tuple[str, list[str]]
) -> None:
    url, bodies = receiver
    status, _, endpoint = api(
        running_info,
        "POST",
        "/v1/webhooks",
        {"url": url, "event_types": ["lead.scored"], "filter": {"markets": [MARKET]}},
    )
    assert status == 201, endpoint
    try:
        _run_flows(running_info, running_aws, bodies)
    finally:
        api(running_info, "DELETE", f"/v1/webhooks/{endpoint['id']}")

    _use_every_key(running_info)

    needles = {**forbidden(), **key_needles(running_info)}
    pattern = re.compile("|".join(re.escape(needle) for needle in sorted(needles, key=len, reverse=True)))
    found: list[str] = []
    lines = 0
    for function, path in running_info["logs"].items():
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            lines += 1
            for match in pattern.finditer(line.lower()):
                found.append(f"{function}.log:{number}: {needles[match.group(0)]}: {line[:300]}")
    # The search saw the functions' own records, not just metrics: Logger's lines of the flows above.
    messages = {
        function: {
            json.loads(line).get("message") for line in Path(path).read_text().splitlines() if line.startswith("{")
        }
        for function, path in running_info["logs"].items()
    }
    assert "webhook attempt" in messages["NotifyFunction"]
    assert "bulk job created" in messages["BulkScoreFunction"]
    assert lines > 0
    assert "rejected an API key" in messages["AuthorizerFunction"]  # the unknown key reached the authorizer
    assert not found, "personal data or API keys in the logs:\n" + "\n".join(found)


def _run_flows(info: dict[str, Any], aws: Callable[[str], Any], bodies: list[str]) -> None:
    # API ingest: scored, stored, announced (lead.scored -> SNS -> notify -> the receiver).
    status, _, score = api(info, "POST", "/v1/leads", lead("api"))
    assert status == 201, score
    # Refused: the error names the field, and must not echo the contact.
    status, _, refused = api(info, "POST", "/v1/leads", lead("refused", property={**LEAD["property"], "price": -5}))
    assert status == 422, refused
    # The batch path.
    status, _, batch = api(info, "POST", "/v1/leads/batch", {"leads": [lead("batch")]})
    assert status in (200, 207), batch
    # An interaction on the API lead: events function, re-score.
    queue_ages = len(emf(info, "EventsFunction", "QueueAge"))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    interaction = {"lead_id": lead("api")["id"], "actor": "buyer-pro-texas", "action": "inquiry", "timestamp": now}
    assert api(info, "POST", "/v1/events", {"events": [interaction]})[0] == 202
    # A bulk upload with one good and one bad row.
    key = f"uploads/pii-{RUN}.csv"
    s3 = aws("s3")
    s3.put_object(Bucket=info["uploads_bucket"], Key=key, Body=_bulk_csv(), Metadata={"tenant-id": info["tenant_id"]})

    def bulk_done() -> bool:
        listed = s3.list_objects_v2(Bucket=info["uploads_bucket"], Prefix="results/").get("Contents", [])
        return any(f"pii-{RUN}.scored" in item["Key"] for item in listed)

    wait_for(bulk_done, timeout=120, what="the bulk upload's results")
    wait_for(lambda: len(emf(info, "EventsFunction", "QueueAge")) > queue_ages, what="the interaction processed")
    wait_for(lambda: any(lead("api")["id"] in body for body in bodies), timeout=60, what="the webhook delivered")
    wait_for(lambda: emf(info, "NotifyFunction", "WebhookDeliveries"), what="the delivery's metrics flushed")
    wait_for(lambda: emf(info, "BulkScoreFunction", "BulkRows"), what="the bulk job's metrics flushed")
    assert any(json.loads(body).get("type") == "lead.scored" for body in bodies)
