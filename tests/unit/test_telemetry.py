"""aiqleads.telemetry: the counts the domain reports, as the EMF lines Powertools prints; and the local cloud's
per-function logs (infra/local_cloud/logs.py) that keep those lines apart."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiqleads import telemetry
from infra.local_cloud.functions import current_function
from infra.local_cloud.logs import FunctionLogs


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """The EMF lines printed so far (after flushing the shared metric set), under namespace AIQLeads."""
    monkeypatch.setattr(telemetry.metrics, "namespace", "AIQLeads")
    monkeypatch.setattr(telemetry.metrics, "service", "api")
    telemetry.metrics.clear_metrics()

    def lines() -> list[dict[str, Any]]:
        if telemetry.metrics.provider.metric_set:
            telemetry.metrics.flush_metrics()
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    yield lines
    telemetry.metrics.clear_metrics()


def _values(lines: list[dict[str, Any]], name: str) -> list[float]:
    return [value for line in lines if name in line for value in line[name]]


def test_leads_scored_is_one_line_per_grade_with_path_grade_and_service(emf: Any) -> None:
    telemetry.leads_scored("bulk", ["A", "B", "A", "D"])
    lines = emf()
    assert [(line["path"], line["grade"], line["LeadsScored"]) for line in lines] == [
        ("bulk", "A", [2.0]),
        ("bulk", "B", [1.0]),
        ("bulk", "D", [1.0]),
    ]
    for line in lines:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "AIQLeads"
        assert directive["Dimensions"] == [["service", "path", "grade"]]
        assert directive["Metrics"] == [{"Name": "LeadsScored", "Unit": "Count"}]
        assert line["service"] == "api"


def test_an_unknown_path_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scoring path"):
        telemetry.leads_scored("tenant-42", ["A"])


def test_queue_age_is_measured_from_each_sqs_records_sent_timestamp(emf: Any) -> None:
    event = {
        "Records": [
            {"eventSource": "aws:sqs", "attributes": {"SentTimestamp": "1000"}},
            {"eventSource": "aws:sqs", "attributes": {"SentTimestamp": "1800"}},
            {"eventSource": "aws:sqs", "attributes": {}},  # no timestamp: nothing to say
        ]
    }
    telemetry.queue_age(event, now_ms=2000)
    telemetry.queue_age({"source": "aws.events"}, now_ms=2000)  # a schedule has no records
    assert _values(emf(), "QueueAge") == [1000.0, 200.0]


def test_webhook_bulk_and_recommendation_figures_have_units(emf: Any) -> None:
    telemetry.webhook_attempt(True, 12.5)
    telemetry.webhook_attempt(False, 30.0)
    telemetry.bulk_rows(10, 2)
    with telemetry.recommendation_request():
        pass
    (line,) = emf()
    units = {item["Name"]: item["Unit"] for item in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {
        "WebhookDeliveries": "Count",
        "WebhookFailures": "Count",
        "WebhookLatency": "Milliseconds",
        "BulkRows": "Count",
        "BulkBadRows": "Count",
        "RecommendationRequests": "Count",
        "RecommendationLatency": "Milliseconds",
    }
    assert line["WebhookLatency"] == [12.5, 30.0]
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]


def test_without_a_namespace_nothing_is_counted_or_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(telemetry.metrics, "namespace", None)
    telemetry.leads_scored("api", ["A"])
    telemetry.webhook_attempt(True, 1.0)
    assert telemetry.metrics.provider.metric_set == {}
    assert capsys.readouterr().out == ""


def test_isolated_invocations_flush_only_their_own_counts(emf: Any) -> None:
    """The local cloud runs functions concurrently in one process: each invocation's flush is its own."""
    started, added = threading.Barrier(2), threading.Barrier(2)
    flushed: dict[str, str] = {}

    def invocation(name: str, rows: int) -> None:
        with telemetry.isolated():
            started.wait()
            telemetry.bulk_rows(rows, 0)
            added.wait()  # both have added before either flushes
            flushed[name] = json.dumps(telemetry.metrics.provider.serialize_metric_set())
            telemetry.metrics.provider.clear_metrics()

    threads = [threading.Thread(target=invocation, args=(name, rows)) for name, rows in (("one", 1), ("two", 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert json.loads(flushed["one"])["BulkRows"] == [1.0]
    assert json.loads(flushed["two"])["BulkRows"] == [2.0]
    assert telemetry.metrics.provider.metric_set == {}  # the process's own set saw neither


def test_a_functions_writes_go_to_its_own_log_whole_lines_only(tmp_path: Path) -> None:
    logs = FunctionLogs(tmp_path)
    logs.add("ApiFunction")
    logs.add("EventsFunction")
    logs.install()
    try:
        token = current_function.set("ApiFunction")
        try:
            print('{"level": "INFO"', end="")
            print(', "message": "one"}')
            print("two", file=sys.stderr)
        finally:
            current_function.reset(token)
        token = current_function.set("EventsFunction")
        try:
            print("three")
        finally:
            current_function.reset(token)
        print("not a function's")
    finally:
        logs.uninstall()
    assert logs.lines("ApiFunction") == ['{"level": "INFO", "message": "one"}', "two"]
    assert logs.lines("EventsFunction") == ["three"]
    assert (tmp_path / "ApiFunction.log").is_file()


def test_model_figures_leave_out_what_a_run_could_not_compute(emf: Any) -> None:
    telemetry.model_figures(0.31, 0.70, 0.78)
    telemetry.model_figures(0.05, None, 0.78)
    (line,) = emf()
    assert line["ModelPsiMax"] == [0.31, 0.05]
    assert line["ModelLiveAuc"] == [0.70]
    assert line["ModelLiveAucDrop"] == [pytest.approx(0.08)]
    units = {item["Name"]: item["Unit"] for item in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"ModelPsiMax": "None", "ModelLiveAuc": "None", "ModelLiveAucDrop": "None"}
