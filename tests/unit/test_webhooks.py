"""Webhooks, the pure parts: signing (checked with the public standardwebhooks package), the retry schedule,
URL safety, filters and settings."""

from __future__ import annotations

import base64
import ipaddress
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.settings import NotifySettings
from aiqleads.webhooks.models import WebhookCreate, WebhookEndpoint, WebhookFilter, WebhookPayload
from aiqleads.webhooks.schedule import RetryPolicy, parse_retry_after
from aiqleads.webhooks.settings import DEFAULT_SCHEDULE, parse_duration, parse_schedule
from aiqleads.webhooks.signing import new_secret, secret_key, sign, signature_headers
from aiqleads.webhooks.urls import UnsafeUrl, UrlPolicy, address_problem

# ------------------------------------------------------------------------------------------------ signing


def test_secret_is_whsec_with_at_least_24_random_bytes() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    with pytest.raises(ValueError, match="24 bytes"):
        secret_key("whsec_" + base64.b64encode(b"short").decode())


def test_signature_verifies_with_the_standardwebhooks_package() -> None:
    secret = new_secret()
    body = json.dumps({"type": "lead.scored", "timestamp": "2026-11-20T10:00:00Z", "data": {"score": 91}})
    now = int(time.time())
    headers = signature_headers([secret], "evt_1", now, body.encode())
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    assert headers["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("91", "92"), headers)  # a tampered body
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)  # another secret


def test_signature_matches_the_spec_formula() -> None:
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000.{}", hashlib.sha256).digest()).decode()
    assert sign(secret, "msg_1", 1700000000, b"{}") == "v1," + expected


def test_rotation_signs_with_both_secrets_and_either_verifies() -> None:
    old, new = new_secret(), new_secret()
    now = datetime.now(UTC)
    endpoint = WebhookEndpoint(
        id="wh_1", tenant_id="t", url="https://example.com", event_types=["lead.scored"], created_at=now,
        updated_at=now, secret=new, previous_secret=old, previous_secret_expires_at=now + timedelta(hours=1),
    )  # fmt: skip
    secrets = endpoint.signing_secrets(now)
    assert secrets == [new, old]
    headers = signature_headers(secrets, "evt_2", int(now.timestamp()), b'{"a":1}')
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify('{"a":1}', headers)
    assert endpoint.signing_secrets(now + timedelta(hours=2)) == [new]  # the grace period is over


# ------------------------------------------------------------------------------------------------ schedule


def test_default_schedule_spans_about_a_day_with_seven_attempts() -> None:
    policy = RetryPolicy(DEFAULT_SCHEDULE, jitter=0)
    assert policy.max_attempts == 7
    delays = [policy.delay_after(n) for n in range(1, 7)]
    assert delays == [5, 300, 1800, 7200, 18000, 36000]
    assert policy.delay_after(7) is None
    assert 15 * 3600 < sum(d or 0 for d in delays) < 24 * 3600


def test_jitter_stays_within_its_band_and_varies() -> None:
    policy = RetryPolicy(DEFAULT_SCHEDULE, jitter=0.2)
    samples = [policy.delay_after(2) or 0 for _ in range(200)]
    assert all(240 <= s <= 360 for s in samples)
    assert len({round(s, 3) for s in samples}) > 50
    assert RetryPolicy([10], jitter=0.2, rng=lambda: 0.0).delay_after(1) == pytest.approx(8)
    assert RetryPolicy([10], jitter=0.2, rng=lambda: 1.0).delay_after(1) == pytest.approx(12)


def test_retry_after_stretches_but_never_shortens_and_is_capped() -> None:
    policy = RetryPolicy([5, 300], jitter=0)
    assert policy.delay_after(1, retry_after=120) == 120
    assert policy.delay_after(2, retry_after=1) == 300
    assert policy.delay_after(1, retry_after=10**9) == 24 * 3600
    now = time.time()
    assert parse_retry_after("120", now) == 120
    http_date = datetime.fromtimestamp(now + 60, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(http_date, now) == pytest.approx(60, abs=1.5)
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


NOTIFY_RESOURCES = {
    "BUYERS_TABLE": "buyers",
    "NOTIFY_QUEUE_URL": "notify",
    "NOTIFY_DEAD_LETTER_QUEUE_URL": "notify-dlq",
    "ALERTS_TOPIC_ARN": "alerts",
}


def test_settings_parse_durations_and_schedules() -> None:
    assert parse_duration("5s") == 5
    assert parse_duration("5m") == 300
    assert parse_duration("2h") == 7200
    assert parse_duration("1d") == 86400
    assert parse_duration("0.5") == 0.5
    assert parse_schedule("5s,5m,30m,2h,5h,10h") == DEFAULT_SCHEDULE
    with pytest.raises(ValueError, match="duration"):
        parse_duration("soon")
    settings = NotifySettings.from_env(
        {**NOTIFY_RESOURCES, "WEBHOOK_RETRY_SCHEDULE": "1,2", "WEBHOOK_TIMEOUT": "2s"}
    ).webhooks
    assert settings.retry_schedule == (1, 2)
    assert settings.max_attempts == 3
    assert settings.timeout_seconds == 2
    assert settings.allow_loopback is False
    defaults = NotifySettings.from_env(NOTIFY_RESOURCES).webhooks
    assert defaults.timeout_seconds == 15
    assert defaults.retry_schedule == DEFAULT_SCHEDULE


# ------------------------------------------------------------------------------------------------ URL safety


def resolver_for(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise UnsafeUrl(f"the host {host!r} does not resolve")
        return table[host]

    return resolve


PUBLIC = {"hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]}


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "127.8.8.8", "0.0.0.0", "169.254.1.1",
        "169.254.169.254", "100.64.0.1", "100.100.100.200", "224.0.0.1", "255.255.255.255", "198.18.0.1",
        "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ],
)  # fmt: skip
def test_private_loopback_link_local_and_metadata_addresses_are_refused(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is not None
    policy = UrlPolicy(resolver=resolver_for({"evil.example.com": [address]}))
    with pytest.raises(UnsafeUrl):
        policy.check("https://evil.example.com/hook")
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(UnsafeUrl):
        policy.check(f"https://{literal}/hook")


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_accepted(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_a_host_with_any_private_address_is_refused() -> None:
    policy = UrlPolicy(resolver=resolver_for({"mixed.example.com": ["93.184.216.34", "10.1.2.3"]}))
    with pytest.raises(UnsafeUrl, match=r"10\.1\.2\.3"):
        policy.check("https://mixed.example.com/")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https:///nohost", "no host"),
        ("https://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("https://metadata/latest", "metadata"),
        ("https://instance-data/latest", "metadata"),
        ("https://anything.internal/", "internal"),
        ("https://localhost/", "loopback"),
        ("https://nowhere.example.net/", "does not resolve"),
        ("https://hooks.example.com:99999/", "valid URL"),
        ("https://hooks.example.com/a b", "whitespace"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl, match=reason):
        UrlPolicy(resolver=resolver_for(PUBLIC)).check(url)


def test_public_https_url_gives_a_pinned_target() -> None:
    target = UrlPolicy(resolver=resolver_for(PUBLIC)).check("https://Hooks.Example.com./in?x=1")
    assert (target.scheme, target.host, target.port, target.path) == ("https", "hooks.example.com", 443, "/in?x=1")
    assert target.addresses == tuple(PUBLIC["hooks.example.com"])


def test_loopback_and_http_only_when_the_local_cloud_allows_them() -> None:
    local = UrlPolicy(allow_loopback=True, resolver=resolver_for(PUBLIC))
    assert local.check("http://127.0.0.1:8080/hook").addresses == ("127.0.0.1",)
    assert local.check("http://[::1]:8080/hook").addresses == ("::1",)
    assert local.check("http://localhost:8080/hook").addresses == ("127.0.0.1",)
    with pytest.raises(UnsafeUrl, match="https"):
        local.check("http://hooks.example.com/")  # http to a public host: still refused
    with pytest.raises(UnsafeUrl, match="private"):
        local.check("http://10.0.0.8/")  # private addresses stay refused locally
    with pytest.raises(UnsafeUrl, match="metadata"):
        local.check("http://169.254.169.254/")
    with pytest.raises(UnsafeUrl):
        UrlPolicy(resolver=resolver_for(PUBLIC)).check("http://127.0.0.1:8080/hook")


# ------------------------------------------------------------------------------------------------ filters and models


def endpoint(**changes: object) -> WebhookEndpoint:
    now = datetime.now(UTC)
    values: dict[str, object] = {
        "id": "wh_1", "tenant_id": "t", "url": "https://hooks.example.com", "event_types": ["lead.scored"],
        "created_at": now, "updated_at": now, "secret": new_secret(),
    }  # fmt: skip
    values.update(changes)
    return WebhookEndpoint.model_validate(values)


def test_filters_score_min_and_markets() -> None:
    scored = {"score": 80, "market": "austin"}
    assert endpoint().accepts("lead.scored", scored)
    assert not endpoint().accepts("lead.score_changed", scored)  # not subscribed
    assert endpoint(filter={"score_min": 80}).accepts("lead.scored", scored)
    assert not endpoint(filter={"score_min": 80.5}).accepts("lead.scored", scored)
    assert endpoint(filter={"markets": ["austin", "phoenix"]}).accepts("lead.scored", scored)
    assert not endpoint(filter={"markets": ["phoenix"]}).accepts("lead.scored", scored)
    assert not endpoint(status="disabled").accepts("lead.scored", scored)
    bulk = endpoint(event_types=["bulk.completed"], filter={"score_min": 90})
    assert bulk.accepts("bulk.completed", {"job_id": "j1"})  # no score on the event: the filter does not apply
    assert WebhookFilter(score_min=50).matches({"score": True}) is True  # a bool is not a score


def test_create_request_is_validated_field_by_field() -> None:
    from pydantic import ValidationError

    ok = WebhookCreate.model_validate(
        {"url": " https://hooks.example.com/x ", "event_types": ["lead.scored", "lead.scored"]}
    )
    assert ok.url == "https://hooks.example.com/x"
    assert ok.event_types == ["lead.scored"]
    with pytest.raises(ValidationError) as error:
        WebhookCreate.model_validate(
            {"url": "ftp://x.example.com/", "event_types": ["lead.nope"], "filter": {"score_min": 101}, "extra": 1}
        )
    fields = {".".join(str(p) for p in item["loc"]) for item in error.value.errors()}
    assert {"url", "event_types.0", "filter.score_min", "extra"} <= fields


def test_payload_is_the_standard_webhooks_shape_and_stable() -> None:
    event = DomainEvent(type="lead.scored", tenant_id="t", data={"lead_id": "l1", "score": 91})
    body = WebhookPayload.of(event).body()
    assert json.loads(body) == {
        "type": "lead.scored",
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": {"lead_id": "l1", "score": 91},
    }
    assert WebhookPayload.of(event).body() == body
