"""boto3 clients, one per service per process (client creation costs milliseconds; Lambda reuses the process)."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from aiqleads.process_cache import per_process, reset
from aiqleads.storage.dynamo_parser import DynamoParserFactory

# Standard retry mode backs off on throttling and 5xx; short timeouts keep a stuck call from eating an invocation.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=3,
    read_timeout=10,
    tcp_keepalive=True,
    max_pool_connections=32,
)


# Our DynamoDB requests are built by code, not typed in, and the service validates them anyway: botocore's own
# walk over every attribute of every request (a tenth of the client's time in a recommendation request) goes.
DYNAMODB_CONFIG = CLIENT_CONFIG.merge(Config(parameter_validation=False))


def new_client(service: str, **kwargs: Any) -> Any:
    """A new client with our configuration (tests and benchmarks add an endpoint or credentials); DynamoDB's
    also parses items with `DynamoParserFactory`."""
    core = botocore.session.get_session()
    config = CLIENT_CONFIG
    if service == "dynamodb":
        core.register_component("response_parser_factory", DynamoParserFactory())
        config = DYNAMODB_CONFIG
    return boto3.session.Session(botocore_session=core).client(service, **({"config": config} | kwargs))


@per_process
def client(service: str) -> Any:
    return new_client(service)


def reset_clients() -> None:
    """Forget cached clients and the services holding them (after the environment's endpoint or credentials
    change, e.g. in tests)."""
    reset()


class DynamoTable:
    """The base of every repository over one DynamoDB table: its name, and the process's client unless one is
    given (tests, scripts and the demo seeder pass their own)."""

    def __init__(self, table_name: str, dynamodb: Any | None = None):
        self.table_name = table_name
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        return self._dynamodb or client("dynamodb")


def item_too_large(error: ClientError) -> bool:
    """A write refused because the item would exceed DynamoDB's 400 KB (alone, or as a transaction's reason)."""
    code = error.response.get("Error", {}).get("Code")
    reasons = error.response.get("CancellationReasons", []) if code == "TransactionCanceledException" else []
    messages = [str(error)] if code == "ValidationException" else [str(r.get("Message", "")) for r in reasons]
    return any("item size" in message.lower() for message in messages)


# What botocore's standard retry mode treats as throttling (botocore/retries/standard.py), and the reason DynamoDB
# gives inside a cancelled transaction: the service is busy, not the request wrong.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


def throttled(error: BaseException) -> bool:
    """An AWS call refused for load after botocore's retries: throttling, or a transaction cancelled by it."""
    if not isinstance(error, ClientError):
        return False
    code = error.response.get("Error", {}).get("Code")
    if code in THROTTLING_CODES:
        return True
    reasons = error.response.get("CancellationReasons", []) if code == "TransactionCanceledException" else []
    return any(reason.get("Code") in {"ThrottlingError", "ProvisionedThroughputExceeded"} for reason in reasons)


def condition_failed(error: ClientError) -> bool:
    """A write refused by its condition: ConditionalCheckFailedException, or a transaction cancelled by a failed
    condition (whose reasons some endpoints only put in the message)."""
    code = error.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons", [])
    return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or "ConditionalCheckFailed" in str(error)
