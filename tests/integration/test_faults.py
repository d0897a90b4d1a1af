"""Faults injected between the local cloud's functions and AWS (infra/local_cloud/faults.py), and what a user
sees meanwhile and after: one cloud whose functions reach moto through the fault proxy, for the whole module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local_cloud import LocalCloud
from infra.local_cloud.faults import FaultProxy, FaultRule, behind_proxy, compressed_backoff, throttling
from tests.integration.conftest import TEMPLATE
from tests.integration.test_backbone import LEAD, api

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def faulty() -> Iterator[tuple[LocalCloud, FaultProxy]]:
    """The cloud and its proxy; botocore's backoff compressed, as the pollers' retry delay is."""
    with compressed_backoff(), behind_proxy(TEMPLATE, retry_delay=0.5) as (cloud, proxy):
        yield cloud, proxy


@pytest.fixture
def proxy(faulty: tuple[LocalCloud, FaultProxy]) -> Iterator[FaultProxy]:
    yield faulty[1]
    faulty[1].clear()


@pytest.fixture(scope="module")
def info(faulty: tuple[LocalCloud, FaultProxy]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(faulty[0].info()))
    return result


def test_the_functions_reach_aws_through_the_proxy(info: dict[str, Any], proxy: FaultProxy) -> None:
    rule = proxy.inject(FaultRule("dynamodb", times=1, fault=throttling()))  # retried by botocore: unseen
    status, _, body = api(info, "POST", "/v1/leads", {**LEAD, "id": "fault-through-proxy"})
    assert status == 201, body
    assert rule.injected == 1
    assert proxy.rules.forwarded > 0
