"""Metrics through the running local cloud: the EMF lines Powertools prints on each flush land in the function's
own log (`info()["logs"]`, as CloudWatch Logs would keep them per function), read from outside like any log."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_backbone import LEAD, api

pytestmark = pytest.mark.integration


def log_records(info: dict[str, Any], function: str) -> list[dict[str, Any]]:
    """Every JSON line of a function's log so far (Logger records and EMF lines; one line per record)."""
    records = []
    for line in Path(info["logs"][function]).read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def emf(info: dict[str, Any], function: str, metric: str) -> list[dict[str, Any]]:
    """A function's EMF lines that carry `metric`."""
    return [
        record
        for record in log_records(info, function)
        if metric in record
        and any(
            item["Name"] == metric
            for directive in record.get("_aws", {}).get("CloudWatchMetrics", [])
            for item in directive["Metrics"]
        )
    ]


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"{what}: not met within {timeout}s")


def test_every_function_has_a_log(running_info: dict[str, Any]) -> None:
    assert set(running_info["logs"]) == set(running_info["functions"])
    for path in running_info["logs"].values():
        assert Path(path).name.endswith("Function.log")


def test_a_scored_lead_is_counted_by_path_and_grade_in_the_api_functions_log(running_info: dict[str, Any]) -> None:
    lead = {**LEAD, "id": f"it-obs-{uuid.uuid4().hex[:10]}"}
    status, _, score = api(running_info, "POST", "/v1/leads", lead)
    assert status == 201, score
    # The line is flushed before the handler returns, so it is there once the response is.
    mine = [
        line
        for line in emf(running_info, "ApiFunction", "LeadsScored")
        if line["path"] == "api" and line["grade"] == score["grade"]
    ]
    assert mine, "no LeadsScored line for path api and the lead's grade"
    line = mine[-1]
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "AIQLeads"
    assert directive["Dimensions"] == [["service", "path", "grade"]]
    assert directive["Metrics"] == [{"Name": "LeadsScored", "Unit": "Count"}]
    assert line["LeadsScored"] == [1.0]
    # Not the events, authorizer, ... function's log: each keeps its own.
    assert not any(line["path"] == "api" for line in emf(running_info, "EventsFunction", "LeadsScored"))


def test_a_consumer_reports_how_long_its_messages_waited(running_info: dict[str, Any]) -> None:
    lead = {**LEAD, "id": f"it-obs-{uuid.uuid4().hex[:10]}"}
    assert api(running_info, "POST", "/v1/leads", lead)[0] == 201
    before = len(emf(running_info, "EventsFunction", "QueueAge"))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    event = {"lead_id": lead["id"], "actor": "buyer-pro-texas", "action": "view", "timestamp": now}
    assert api(running_info, "POST", "/v1/events", {"events": [event]})[0] == 202
    lines = wait_for(
        lambda: emf(running_info, "EventsFunction", "QueueAge")[before:],
        what="a QueueAge line from the events function",
    )
    (directive,) = lines[-1]["_aws"]["CloudWatchMetrics"]
    assert {"Name": "QueueAge", "Unit": "Milliseconds"} in directive["Metrics"]
    assert all(0 <= age < 60_000 for age in lines[-1]["QueueAge"])
    assert lines[-1]["service"] == "aiqleads"  # locally one service name for all (see functions.py)
