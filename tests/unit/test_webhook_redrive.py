"""The redrive command as an operator meets it: queues found by stage or named, and one-line errors otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from aiqleads.storage.aws import reset_clients
from aiqleads.webhooks.redrive import main, queue_names, stack_queue_names
from infra.local_cloud.__main__ import main as local_cloud_main
from infra.template import load_template

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sqs(local_aws: None) -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def dead_letter(sqs: Any, stage: str, count: int) -> tuple[str, str]:
    queue_name, dead_letter_name = queue_names(stage)
    queue = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    dlq = sqs.create_queue(QueueName=dead_letter_name)["QueueUrl"]
    for index in range(count):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"kind": "webhook.delivery", "n": index}))
    return queue, dlq


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_queue_names_are_the_templates() -> None:
    resources = load_template(ROOT / "template.yaml")["Resources"]
    named = [
        resources[logical_id]["Properties"]["QueueName"] for logical_id in ("NotifyQueue", "NotifyDeadLetterQueue")
    ]
    assert [
        {"Fn::Sub": name.replace("my-stack", "${AWS::StackName}")} for name in stack_queue_names("my-stack")
    ] == named
    assert queue_names("dev") == stack_queue_names("aiqleads-dev")


def test_stage_finds_the_queues_and_moves_every_message(sqs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    queue, dlq = dead_letter(sqs, "staging", 3)
    assert main(["--stage", "staging"], environ={}) == 0
    assert depth(sqs, dlq) == 0
    assert depth(sqs, queue) == 3
    assert "moved 3 " in capsys.readouterr().out


def test_stack_finds_the_queues_a_stack_of_any_name_has(sqs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    queue_name, dead_letter_name = stack_queue_names("aiqleads-dev-blue")
    queue = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    dlq = sqs.create_queue(QueueName=dead_letter_name)["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"kind": "webhook.delivery", "n": 0}))
    assert main(["--stack", "aiqleads-dev-blue"], environ={}) == 0
    assert (depth(sqs, dlq), depth(sqs, queue)) == (0, 1)
    assert main(["--stack", "aiqleads-dev-green"], environ={}) == 1
    assert "no queue aiqleads-dev-green-notify in region us-east-1 (is the stack right" in capsys.readouterr().err


def test_named_queues_and_max(sqs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    queue, dlq = dead_letter(sqs, "dev", 3)
    assert main(["--max", "2"], environ={"NOTIFY_QUEUE_URL": queue, "NOTIFY_DEAD_LETTER_QUEUE_URL": dlq}) == 0
    assert (depth(sqs, dlq), depth(sqs, queue)) == (1, 2)
    assert main(["--queue-url", queue, "--dead-letter-queue-url", dlq], environ={}) == 0
    assert (depth(sqs, dlq), depth(sqs, queue)) == (0, 3)


def test_without_queues_it_names_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([], environ={"NOTIFY_QUEUE_URL": "https://sqs.example/q"})
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "NOTIFY_DEAD_LETTER_QUEUE_URL not set" in error
    assert "--stage" in error
    assert "make redrive" in error
    assert "Traceback" not in error


def test_a_wrong_stage_is_one_line(sqs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    dead_letter(sqs, "dev", 1)
    assert main(["--stage", "prod"], environ={}) == 1
    error = capsys.readouterr().err
    assert error.strip() == (
        "redrive: no queue aiqleads-prod-notify in region us-east-1 (is the stage right, and AWS_DEFAULT_REGION "
        "the stack's?)"
    )


def test_no_region_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    reset_clients()
    try:
        assert main(["--stage", "dev"], environ={}) == 1
    finally:
        reset_clients()
    assert "no AWS region: set AWS_DEFAULT_REGION" in capsys.readouterr().err


def test_make_redrive_without_a_running_local_cloud(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "local.json"
    assert local_cloud_main(["redrive", "--state-file", str(state)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"local cloud: {state} does not exist: start the local cloud first (make run)"
    )
