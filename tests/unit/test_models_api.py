"""/v1/models in-process on an in-memory registry: tenant-scoped reads, admin-only alias writes, clear errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aiqleads.api import context
from aiqleads.api.app import app
from aiqleads.registry.service import ModelRegistry
from tests.api_client import call
from tests.registry_fakes import memory_registry, shipped_files


@pytest.fixture
def registry() -> Iterator[ModelRegistry]:
    registry = memory_registry()
    registry.register("t1", shipped_files(), version="3.0.0")
    app.dependency_overrides[context.models] = lambda: registry
    yield registry
    app.dependency_overrides.clear()


def test_a_tenant_lists_its_versions_and_the_global_default_only(registry: ModelRegistry) -> None:
    status, _, listed = call("GET", "/v1/models")
    assert status == 200
    assert [(m["version"], m["tenant"], m["serving"]) for m in listed["data"]] == [
        ("3.0.0", "t1", False),
        ("2.0.0", None, True),
    ]
    assert listed["data"][0]["lineage"]["parent_version"] == "2.0.0"
    _, _, other = call("GET", "/v1/models", tenant="t2")
    assert [m["version"] for m in other["data"]] == ["2.0.0"]
    assert call("GET", "/v1/models/3.0.0", tenant="t2")[0] == 404
    status, _, one = call("GET", "/v1/models/3.0.0")
    assert (status, one["training_rows"]) == (200, 197_978)


def test_promote_and_roll_back_need_an_admin_key(registry: ModelRegistry) -> None:
    status, _, refused = call("PUT", "/v1/models/aliases/production", {"version": "3.0.0"}, role="member")
    assert (status, refused["error"]["code"]) == (403, "forbidden")
    assert call("POST", "/v1/models/aliases/production/rollback", role="member")[0] == 403
    status, _, change = call("PUT", "/v1/models/aliases/production", {"version": "3.0.0"}, role="admin")
    assert status == 200
    assert (change["previous_version"], change["version"], change["serving"]) == ("2.0.0", "3.0.0", "3.0.0")
    assert call("GET", "/v1/models")[2]["serving"] == "3.0.0"
    assert call("GET", "/v1/models", tenant="t2")[2]["serving"] == "2.0.0"
    status, _, back = call("POST", "/v1/models/aliases/production/rollback", role="admin")
    assert (status, back["version"]) == (200, "2.0.0")
    status, _, none_left = call("POST", "/v1/models/aliases/production/rollback", role="admin")
    assert (status, none_left["error"]["code"]) == (409, "conflict")


def test_alias_write_mistakes_are_clear(registry: ModelRegistry) -> None:
    status, _, unknown = call("PUT", "/v1/models/aliases/production", {"version": "9.9.9"}, role="admin")
    assert status == 404
    assert "no model version '9.9.9'" in unknown["error"]["message"]
    # The alias is an enum in the OpenAPI, and validated as one: a 422 naming the path parameter.
    status, _, champion = call("PUT", "/v1/models/aliases/champion", {"version": "3.0.0"}, role="admin")
    assert status == 422
    assert [detail["field"] for detail in champion["error"]["details"]] == ["alias"]
    status, _, cleared = call("PUT", "/v1/models/aliases/production", {"version": None}, role="admin")
    assert status == 422
    assert cleared["error"]["code"] == "validation_error"
    status, _, _bad = call("PUT", "/v1/models/aliases/shadow", {"versoin": "3.0.0"}, role="admin")
    assert status == 422
    assert call("PUT", "/v1/models/aliases/shadow", {"version": "3.0.0"}, role="admin")[2]["version"] == "3.0.0"
    assert call("PUT", "/v1/models/aliases/shadow", {"version": None}, role="admin")[2]["version"] is None
    # A global default version is a valid target: how a tenant returns to it.
    assert call("PUT", "/v1/models/aliases/production", {"version": "2.0.0"}, role="admin")[0] == 200
