"""A revoked key stops working within the authorizer's cache TTL (`AuthorizerCacheTtlSeconds`, the template's
`ReauthorizeEvery`), whatever API Gateway's own view of the key.

The cloud here is given a short TTL through the template parameter (as `sam deploy --parameter-overrides` would)
and an API key cache longer than the test, so API Gateway keeps admitting the disabled key and only the
authorizer's verdict can refuse it: the guarantee measured is the authorizer's, not the usage plan's (that one,
seconds, is tests/integration/test_onboarding.py's). The key is issued and revoked with `aiqleads keys`, as an
operator does; every wait is a poll with a deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local_cloud import LocalCloud
from tests.integration.conftest import TEMPLATE, run_cli
from tests.integration.test_backbone import api

pytestmark = pytest.mark.integration

TTL_SECONDS = 3
# How late past the TTL a refusal may come: one poll interval and a request's time.
SLACK_SECONDS = 1.5


@pytest.fixture(scope="module")
def cloud_info(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Path]]:
    with LocalCloud(
        TEMPLATE,
        port=0,
        demo=False,
        parameters={"AuthorizerCacheTtlSeconds": TTL_SECONDS},
        key_cache_seconds=3600,  # API Gateway never notices the disabled key during the test
    ) as cloud:
        info: dict[str, Any] = json.loads(json.dumps(cloud.info()))
        state = tmp_path_factory.mktemp("revocation") / "local.json"
        state.write_text(json.dumps(info))
        yield info, state


def aiqleads(state: Path, *args: str) -> Any:
    code, output, error = run_cli(*args, "--local-state", str(state), timeout=120)
    assert code == 0, error
    return output


def status_of(info: dict[str, Any], key: str) -> tuple[int, Any]:
    status, _, body = api(info, "GET", "/v1/leads/no-such-lead", key=key)  # 404 once the key is let through
    return status, body


def test_a_revoked_key_is_refused_within_the_authorizer_cache_ttl(cloud_info: tuple[dict[str, Any], Path]) -> None:
    info, state = cloud_info
    aiqleads(state, "tenants", "create", "revoked-realty")
    issued = aiqleads(state, "keys", "issue", "--tenant", "revoked-realty", "--tier", "pro")
    cached_at = time.monotonic()  # the first request stores the authorizer's answer; hits do not extend it
    assert status_of(info, issued["api_key"])[0] == 404
    assert aiqleads(state, "keys", "revoke", "--key-id", issued["key_id"])["status"] == "revoked"

    revoked_at = time.monotonic()

    # Until the cached answer expires the gateway does not ask the authorizer again (as API Gateway), so the
    # revoked key may still pass; then the authorizer refuses it: 401 with the error envelope.
    statuses: list[tuple[float, int]] = []  # (seconds since the answer was cached, status)
    deadline = revoked_at + TTL_SECONDS + SLACK_SECONDS
    while time.monotonic() < deadline:
        status, body = status_of(info, issued["api_key"])
        statuses.append((round(time.monotonic() - cached_at, 2), status))
        if status != 404:
            break
        time.sleep(0.2)  # the poll's interval, not a wait standing in for the condition
    assert statuses, "the revocation took longer than the whole deadline"
    assert statuses[-1][1] == 401, f"not refused within {TTL_SECONDS}s of its revocation: {statuses}"
    assert body["error"]["code"] == "unauthorized"
    assert statuses[-1][0] >= TTL_SECONDS, f"refused before the cached answer expired: {statuses}"
    assert status_of(info, issued["api_key"])[0] == 401  # a refusal is not cached as an answer: still asked, still 401
