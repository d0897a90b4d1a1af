"""The embedded local cloud: one object that starts everything, describes it, and stops it.

    with LocalCloud(port=0) as cloud:          # moto on 127.0.0.1 + every resource template.yaml declares
        cloud.client("s3").upload_file("leads.csv", cloud.info()["uploads_bucket"], "uploads/leads.csv")

Today it is the AWS endpoint and the template's resources. The parts that come next plug in here, in `start()`
after the resources exist and in `stop()` before the endpoint goes away, and add their keys to `info()`:
the shipped model and demo data (tenant, API key, buyers, market signals, leads), the HTTP server that behaves as
API Gateway does for the template (`api_url`, `api_key`), and the functions polling their queues.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .resources import DEFAULT_STACK_NAME, LocalResources, create_resources
from .server import DEFAULT_HOST, DEFAULT_PORT, REGION, LocalAwsServer, LocalCloudError

DEFAULT_TEMPLATE = Path("template.yaml")
DEFAULT_STATE_FILE = Path(".aiqleads/local.json")

# The resources that local.json names at the top level (the keys users and tools look for first).
WELL_KNOWN = {
    "uploads_bucket": "UploadsBucket",
    "events_topic_arn": "DomainEventsTopic",
    "alerts_topic_arn": "AlertsTopic",
}


class LocalCloud:
    """moto server + the template's resources (and, later, the API server and function pollers)."""

    def __init__(
        self,
        template: str | Path | Mapping[str, Any] = DEFAULT_TEMPLATE,
        *,
        port: int = DEFAULT_PORT,
        host: str = DEFAULT_HOST,
        parameters: Mapping[str, Any] | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        region: str = REGION,
        log_requests: bool = False,
    ) -> None:
        self.template = template
        self.parameters = dict(parameters or {})
        self.stack_name = stack_name
        self.server = LocalAwsServer(port=port, host=host, region=region, log_requests=log_requests)
        self._resources: LocalResources | None = None

    def start(self) -> LocalCloud:
        self.server.start()
        try:
            self._resources = create_resources(
                self.server.endpoint_url,
                self.template,
                parameters=self.parameters,
                stack_name=self.stack_name,
                region=self.server.region,
            )
        except BaseException:
            self.server.stop()
            raise
        return self

    def stop(self) -> None:
        self._resources = None
        self.server.stop()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def resources(self) -> LocalResources:
        if self._resources is None:
            raise LocalCloudError("the local cloud is not running (call start() first)")
        return self._resources

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for the local endpoint (dummy credentials, loopback only)."""
        return self.server.client(service, **kwargs)

    def info(self) -> dict[str, Any]:
        """What `.aiqleads/local.json` holds: the well-known names first, then everything by logical id."""
        resources = self.resources
        summary = resources.as_dict()
        well_known = {key: resources.ref(logical_id) for key, logical_id in WELL_KNOWN.items()}
        return {
            "aws_endpoint_url": summary.pop("aws_endpoint_url"),
            "region": summary.pop("region"),
            **well_known,
            **summary,
        }


def write_state_file(path: str | Path, info: Mapping[str, Any]) -> Path:
    """Write `info` (plus this process's pid) as JSON, atomically: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps({**info, "pid": os.getpid()}, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def remove_state_file(path: str | Path) -> None:
    """Remove the state file if this process wrote it: once stopped, its endpoint and URLs point at nothing."""
    path = Path(path)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
