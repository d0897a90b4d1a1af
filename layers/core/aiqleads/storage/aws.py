"""boto3 clients, one per service per process (client creation costs milliseconds; Lambda reuses the process)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from ..process_cache import per_process, reset

# Standard retry mode backs off on throttling and 5xx; short timeouts keep a stuck call from eating an invocation.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=3,
    read_timeout=10,
    tcp_keepalive=True,
    max_pool_connections=32,
)


@per_process
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=CLIENT_CONFIG)


def reset_clients() -> None:
    """Forget cached clients and the services holding them (after the environment's endpoint or credentials
    change, e.g. in tests)."""
    reset()
