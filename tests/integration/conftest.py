"""The local cloud, started once per session on a free loopback port from the real template.yaml.

Tests drive it only from outside, as a user would: boto3 clients on its endpoint, the names it publishes in
`info()` (what `.aiqleads/local.json` holds). Every wait is bounded (`receive_until`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.iam.policies import Grant, needed
from infra.local_cloud import LocalCloud
from infra.local_cloud.calls import CallRecorder
from infra.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: drives the local cloud (moto on 127.0.0.1) from outside")


@pytest.fixture(scope="session", autouse=True)
def aws_calls() -> Iterator[CallRecorder]:
    """Every AWS call the template's functions make in this session's flows, as the IAM authorisations AWS
    checks; at the end each must be covered by what the function's wiring declares (aiqleads.iam), which is what
    tests/unit/test_iam.py holds template.yaml's policies to. So a call added without its declaration fails here."""
    with CallRecorder() as recorder:
        yield recorder
    needs = needed(load_template(TEMPLATE))
    undeclared = sorted(
        f"{function}: {request.action} {request.resource} {request.path}".rstrip()
        for function, request in recorder.calls
        if function in needs and not any(grant.covers(Grant(*request.astuple())) for grant in needs[function])
    )
    unnamed = sorted(f"{function}: {request}" for function, request in recorder.unnamed if function in needs)
    assert not undeclared, "calls no IAM declaration covers:\n" + "\n".join(undeclared)
    assert not unnamed, "calls on resources template.yaml does not declare:\n" + "\n".join(unnamed)


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[LocalCloud]:
    """The AWS endpoint and the template's resources only: no function consumes the queues, so tests can."""
    with LocalCloud(TEMPLATE, port=0, run_functions=False, demo=False) as cloud:  # port 0: a free loopback port
        yield cloud


@pytest.fixture(scope="module")
def running_cloud() -> Iterator[LocalCloud]:
    """Everything `make run` starts: functions behind the API server and the queue pollers, and the demo data.
    One per test module: its handlers share this process's environment, which it restores when it stops."""
    # ModelAliasTtlSeconds 0: a promotion is visible to the very next score, so tests need not wait for it.
    with LocalCloud(TEMPLATE, port=0, retry_delay=1, parameters={"ModelAliasTtlSeconds": 0}) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def running_info(running_cloud: LocalCloud) -> dict[str, Any]:
    info: dict[str, Any] = json.loads(json.dumps(running_cloud.info()))
    return info


def _clients(info: dict[str, Any]) -> Callable[[str], Any]:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=info["region"]
    )
    clients: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=info["aws_endpoint_url"])
        return clients[service]

    return make


@pytest.fixture(scope="module")
def running_aws(running_info: dict[str, Any]) -> Callable[[str], Any]:
    return _clients(running_info)


@pytest.fixture(scope="session")
def local_info(local_cloud: LocalCloud) -> dict[str, Any]:
    """What a user reads from .aiqleads/local.json (round-tripped through JSON, as they would)."""
    info: dict[str, Any] = json.loads(json.dumps(local_cloud.info()))
    return info


@pytest.fixture(scope="session")
def aws(local_info: dict[str, Any]) -> Callable[[str], Any]:
    """boto3 clients as a user would make them: the endpoint from local.json and dummy credentials."""
    return _clients(local_info)


def receive_until(
    sqs: Any,
    queue_url: str,
    matches: Callable[[dict[str, Any]], bool],
    *,
    timeout: float = 10.0,
    delete: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Receive from `queue_url` until a message `matches` (returned with everything seen before it), at most
    `timeout` seconds. Received messages are deleted unless `delete` is false."""
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
        )
        for message in response.get("Messages", []):
            seen.append(message)
            if delete:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if matches(message):
                return message, seen
    bodies = [message["Body"][:200] for message in seen]
    raise AssertionError(f"no matching message on {queue_url} within {timeout}s; received {bodies}")


AIQLEADS = Path(sys.executable).with_name("aiqleads")


def run_cli(*argv: str, timeout: float = 600.0) -> tuple[int, Any, str]:
    """The `aiqleads` console script in a process of its own, as an operator runs it: exit status, stdout as JSON
    (None if not JSON), stderr. Not in this process: the local cloud's functions run here, and what they print
    would land in a captured stdout."""
    done = subprocess.run([str(AIQLEADS), *argv], capture_output=True, text=True, timeout=timeout)
    try:
        output = json.loads(done.stdout)
    except ValueError:
        output = None
    return done.returncode, output, done.stderr
