"""The local cloud's EventBridge schedules: the template's rate expressions, the event a function receives, and a
timer that fires on its period and stops when told."""

from __future__ import annotations

import threading
from pathlib import Path

from aiqleads.training.consumer import is_scheduled
from infra.local_cloud.functions import discover_functions
from infra.local_cloud.schedules import ScheduleTimer, rate_seconds, scheduled_event
from infra.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def test_rate_expressions_become_periods_and_cron_is_not_run() -> None:
    assert rate_seconds("rate(10 days)") == 864_000
    assert rate_seconds("rate(1 hour)") == 3600
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("cron(0 12 * * ? *)") is None


def test_the_training_function_is_scheduled_every_training_interval() -> None:
    specs = discover_functions(load_template(ROOT / "template.yaml"), ROOT)
    (schedule,) = specs["TrainingFunction"].schedule_events
    from infra.local_cloud.intrinsics import Resolver

    template = load_template(ROOT / "template.yaml")
    assert Resolver(template).resolve(schedule.expression) == "rate(10 days)"
    assert Resolver(template, parameters={"TrainingIntervalDays": 1}).resolve(schedule.expression) == "rate(1 day)"
    event = scheduled_event("arn:aws:events:us-east-1:123456789012:rule/r", "us-east-1", "123456789012")
    assert is_scheduled(event)
    assert not is_scheduled({"Records": []})


def test_a_timer_fires_on_its_period_until_stopped() -> None:
    fired = threading.Event()
    timer = ScheduleTimer("F", "S", 0.05, fired.set).start()
    try:
        assert fired.wait(timeout=5)
    finally:
        timer.stop()
    assert not timer._thread.is_alive()


def test_the_bulk_function_rescores_every_rescore_interval_in_valid_rate_expressions() -> None:
    """EventBridge wants "rate(1 hour)", never "rate(1 hours)": the template's condition picks the unit."""
    from infra.local_cloud.intrinsics import Resolver

    template = load_template(ROOT / "template.yaml")
    (schedule,) = discover_functions(template, ROOT)["BulkScoreFunction"].schedule_events
    assert schedule.name == "Rescore"
    assert Resolver(template).resolve(schedule.expression) == "rate(6 hours)"
    assert Resolver(template, parameters={"RescoreIntervalHours": 1}).resolve(schedule.expression) == "rate(1 hour)"
    assert Resolver(template, parameters={"RescoreIntervalHours": 12}).resolve(schedule.expression) == "rate(12 hours)"
    assert rate_seconds(Resolver(template).resolve(schedule.expression)) == 6 * 3600
