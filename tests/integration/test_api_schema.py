"""Schemathesis against the running local cloud's API: generated requests for every documented operation, over
HTTP with the demo API key. No response may be a 5xx or break the committed openapi.json (schema, status code,
content type)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
schema = schemathesis.openapi.from_path(ROOT / "openapi.json")
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_honours_its_schema(case: Any, running_info: dict[str, Any]) -> None:
    case.call_and_validate(
        base_url=running_info["api_url"],
        headers={"x-api-key": running_info["api_key"]},
        checks=CHECKS,
        timeout=30,
    )
