"""Tenants and API keys as an operator onboards them: the `aiqleads` command against the running local cloud (its
state file), and requests through the local API server, which admits a key only when API Gateway's rule does: the
authorizer's usageIdentifierKey must be an enabled API key in a usage plan of the stage."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aiqleads.models import Tier
from aiqleads.storage.api_keys import ApiKeyRepository
from aiqleads.storage.tenants import TenantDirectory
from aiqleads.tenants.api_keys import ApiKeyRecord
from tests.integration.test_backbone import api

pytestmark = pytest.mark.integration

AIQLEADS = Path(sys.executable).with_name("aiqleads")
# The local API server trusts what it read about a key for a few seconds (as API Gateway caches keys); its
# authorizer cache (ReauthorizeEvery) for 300 s. Waits are bounded polls, never sleeps standing for a condition.
DEADLINE_SECONDS = 30.0


@pytest.fixture(scope="module")
def state_file(running_info: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make run` writes to .aiqleads/local.json, for this test's local cloud."""
    path = tmp_path_factory.mktemp("state") / "local.json"
    path.write_text(json.dumps(running_info))
    return path


def aiqleads(state_file: Path, *args: str) -> tuple[int, Any, str]:
    """The console script as an operator runs it: exit status, stdout as JSON (None if not JSON), stderr."""
    done = subprocess.run(
        [str(AIQLEADS), *args, "--local-state", str(state_file)], capture_output=True, text=True, timeout=120
    )
    try:
        output = json.loads(done.stdout)
    except ValueError:
        output = None
    return done.returncode, output, done.stderr


def status_of(info: dict[str, Any], key: str) -> int:
    return api(info, "GET", "/v1/leads/no-such-lead", key=key)[0]  # 404 once the gateway lets the key through


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE_SECONDS}s: {what}")
        time.sleep(0.2)


def test_a_key_only_in_the_keys_table_is_refused_by_the_gateway(
    running_info: dict[str, Any], running_aws: Callable[[str], Any]
) -> None:
    """The authorizer accepts it (its hash is in ApiKeysTable), but API Gateway holds no such API key: 403."""
    key, record = ApiKeyRecord.issue("demo", Tier.ENTERPRISE, name="table only")
    ApiKeyRepository(running_info["tables"]["ApiKeysTable"], running_aws("dynamodb")).put(record)
    status, _, body = api(running_info, "GET", "/v1/leads/no-such-lead", key=key)
    assert status == 403
    assert body["error"]["message"] == "API key is not enabled for a usage plan"
    assert status_of(running_info, running_info["api_key"]) == 404  # the demo's key is registered: admitted


def test_demo_keys_are_registered_and_the_admin_keys_listed(running_info: dict[str, Any]) -> None:
    for name in ("admin_api_key", "other_tenant_admin_api_key", "other_tenant_api_key"):
        assert status_of(running_info, running_info[name]) == 404, name
    for tier, key in running_info["api_keys"].items():
        assert status_of(running_info, key) == 404, tier


def test_onboarding_a_tenant_issuing_and_revoking_a_key(
    running_info: dict[str, Any], running_aws: Callable[[str], Any], state_file: Path
) -> None:
    code, tenant, _ = aiqleads(state_file, "tenants", "create", "onboarded-realty", "--name", "Onboarded Realty")
    assert code == 0
    assert tenant["tenant_id"] == "onboarded-realty"

    # Its settings, read by its next training job: engagement fades twice as fast as the default.
    code, configured, _ = aiqleads(
        state_file, "tenants", "configure", "onboarded-realty", "--engagement-half-life-days", "15"
    )
    assert code == 0
    assert (configured["engagement_half_life_days"], configured["name"]) == (15.0, "Onboarded Realty")
    directory = TenantDirectory(running_info["tables"]["TenantsTable"], running_aws("dynamodb"))
    assert directory.half_life_days("onboarded-realty") == 15.0
    code, _, error = aiqleads(
        state_file, "tenants", "configure", "onboarded-realty", "--engagement-half-life-days", "0"
    )
    assert code == 1
    assert "engagement_half_life_days" in error
    assert directory.half_life_days("onboarded-realty") == 15.0  # a bad value changes nothing

    code, issued, _ = aiqleads(
        state_file, "keys", "issue", "--tenant", "onboarded-realty", "--tier", "basic", "--role", "admin"
    )
    assert code == 0
    assert issued["api_key"].startswith("aiq_")
    assert issued["key_id"]
    assert (issued["tenant_id"], issued["tier"], issued["role"]) == ("onboarded-realty", "basic", "admin")
    status, headers, _ = api(running_info, "GET", "/v1/leads/no-such-lead", key=issued["api_key"])
    assert status == 404  # through the authorizer and the usage plan, to the API, as the new tenant
    assert headers["X-RateLimit-Limit"] == "60"  # the basic plan throttles it

    code, revoked, _ = aiqleads(state_file, "keys", "revoke", "--key-id", issued["key_id"])
    assert (code, revoked["status"]) == (0, "revoked")
    # The authorizer's cached policy still allows the key; API Gateway refuses it once it sees the key disabled.
    eventually(lambda: status_of(running_info, issued["api_key"]) == 403, "the revoked key is refused")


def test_rotation_keeps_both_keys_during_the_grace_period_and_only_the_new_one_after(
    running_info: dict[str, Any], state_file: Path
) -> None:
    assert aiqleads(state_file, "tenants", "create", "rotating-realty")[0] == 0
    _, old, _ = aiqleads(state_file, "keys", "issue", "--tenant", "rotating-realty", "--tier", "pro")
    assert status_of(running_info, old["api_key"]) == 404

    code, new, _ = aiqleads(state_file, "keys", "rotate", "--key-id", old["key_id"], "--grace", "8s")
    assert code == 0
    assert (new["replaces"], new["tenant_id"], new["tier"], new["role"]) == (
        old["key_id"],
        "rotating-realty",
        "pro",
        "member",
    )
    expires = datetime.fromisoformat(new["old_key_expires_at"])
    assert status_of(running_info, new["api_key"]) == 404
    assert status_of(running_info, old["api_key"]) == 404
    assert datetime.now(UTC) < expires  # both were checked inside the grace period

    def swept() -> bool:
        code, result, _ = aiqleads(state_file, "keys", "sweep")
        return code == 0 and old["key_id"] in result["retired"]

    eventually(swept, "the sweep retires the old key once its grace period is over")
    assert datetime.now(UTC) >= expires
    eventually(lambda: status_of(running_info, old["api_key"]) == 403, "the old key is refused")
    assert status_of(running_info, new["api_key"]) == 404
    code, _, error = aiqleads(state_file, "keys", "rotate", "--key-id", old["key_id"])
    assert code == 1
    assert "revoked" in error


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenants", "create", "demo"], "tenant 'demo' exists already"),
        (["tenants", "create", "Not A Slug!"], "must be a slug"),
        (["keys", "issue", "--tenant", "nobody-here", "--tier", "pro"], "no tenant 'nobody-here': create it first"),
        (["keys", "revoke", "--key-id", "no-such-key"], "no API key with id 'no-such-key'"),
        (["keys", "rotate", "--key-id", "no-such-key"], "no API key with id 'no-such-key'"),
    ],
)
def test_mistakes_are_one_line_and_a_non_zero_exit(state_file: Path, args: list[str], message: str) -> None:
    code, output, error = aiqleads(state_file, *args)
    assert code == 1
    assert output is None
    assert message in error
    assert "Traceback" not in error
