"""Stateful schemathesis against the running local cloud: scenarios that follow openapi.json's links from the
responses that create (or list) resources to the operations that use their ids, over HTTP with an admin key. No
response may be a 5xx or break the schema, and every operation a link leads to must answer something other than
404 at least once: a missing or broken link (the "only ever answered 404" of issue 15) fails here."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
# Below the enterprise usage plan (1,000 requests/min, burst 50), so no step is spent on a 429.
RATE_LIMIT = "900/m"
SETTINGS = settings(
    max_examples=30,
    stateful_step_count=8,
    deadline=None,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def receiver_url() -> Iterator[str]:
    """A webhook receiver on 127.0.0.1 (the local cloud allows loopback receivers) that accepts every delivery."""

    class Accept(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def linked_operations(doc: dict[str, Any]) -> set[str]:
    """'METHOD /path' of every operation some response links to."""
    by_id = {
        op["operationId"]: f"{method.upper()} {path}"
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    }
    return {
        by_id[target["operationId"]]
        for ops in doc["paths"].values()
        for op in ops.values()
        for response in op["responses"].values()
        for target in response.get("links", {}).values()
    }


def test_linked_scenarios_reach_every_linked_operation(running_info: dict[str, Any], receiver_url: str) -> None:
    # Training a model is minutes of CPU on this machine (its own tests drive it); its job id comes from the
    # monitoring and recommendation jobs too.
    schema = schemathesis.openapi.from_path(ROOT / "openapi.json").exclude(path="/v1/models/training-jobs")
    key = running_info["admin_api_key"]
    schema.config.update(base_url=running_info["api_url"], headers={"x-api-key": key}, rate_limit=RATE_LIMIT)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])  # the per-operation test sends invalid data
    statuses: defaultdict[str, Counter[int]] = defaultdict(Counter)
    failures: list[str] = []

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Any) -> None:
            # A webhook must name a receiver that resolves and answers: the test's own on 127.0.0.1.
            if case.operation.label == "POST /v1/webhooks" and isinstance(case.body, dict):
                case.body["url"] = receiver_url

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"timeout": 30}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            statuses[case.operation.label][response.status_code] += 1

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            # Collected, not raised: replaying a failing scenario against a live API whose state has moved on
            # (the lead now exists: 409) draws other steps, which Hypothesis reports as a flaky strategy instead.
            try:
                case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)
            except Exception as failure:  # schemathesis: a FailureGroup, or a check error
                failures.append(f"{case.operation.label} -> {response.status_code}: {failure}")

    Workflow.run(settings=SETTINGS)

    assert not failures, f"{len(failures)} responses failed the checks:\n" + "\n".join(failures[:5])

    only_404 = sorted(op for op in linked_operations(schema.raw_schema) if set(statuses[op]) <= {404})
    assert not only_404, f"linked operations that never answered other than 404: {only_404}; seen {dict(statuses)}"
    assert not any(status == 429 for counts in statuses.values() for status in counts), dict(statuses)
