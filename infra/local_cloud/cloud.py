"""The embedded local cloud: one object that starts everything, describes it, and stops it.

    with LocalCloud(port=0) as cloud:          # every port on any free loopback port (tests)
        cloud.info()["api_url"]                # http://127.0.0.1:<port>/dev  (append /v1/...)
        cloud.client("s3").upload_file("leads.csv", cloud.info()["uploads_bucket"], "uploads/leads.csv")

`start()` runs, in order: moto on 127.0.0.1 (the AWS endpoint) -> every resource template.yaml declares -> the
functions loaded in this process with their environment (`functions`) -> demo data (`demo.seed_demo`, when
`demo=True`) -> the API server that behaves as API Gateway does (`gateway`) and one poller per SQS event source
(`pollers`). `stop()` undoes it in reverse order and restores the process environment.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.template import load_template

from .functions import FunctionRuntime, FunctionSpec, discover_functions, local_environment
from .gateway import (
    DEFAULT_API_PORT,
    DEFAULT_KEY_CACHE_SECONDS,
    ApiKeyCache,
    GatewayConfig,
    LocalGateway,
    api_gateway_lookup,
)
from .logs import FunctionLogs
from .pollers import DEFAULT_RETRY_DELAY_SECONDS, QueuePoller, QueuePollers
from .resources import DEFAULT_STACK_NAME, LocalResources, create_resources
from .schedules import ScheduleTimer, rate_seconds, scheduled_event
from .server import DEFAULT_HOST, DEFAULT_PORT, REGION, LocalAwsServer, LocalCloudError, Started, client
from .streams import StreamPoller, StreamPollers

DEFAULT_TEMPLATE = Path("template.yaml")
DEFAULT_STATE_FILE = Path(".aiqleads/local.json")

# The resources that local.json names at the top level (the keys users and tools look for first).
WELL_KNOWN = {
    "uploads_bucket": "UploadsBucket",
    "events_topic_arn": "DomainEventsTopic",
    "alerts_topic_arn": "AlertsTopic",
}


class LocalCloud(Started):
    """moto server + the template's resources + its functions behind the API server and the queue pollers.

    `api_port` None means 3000, or any free port when `port` is 0 (so tests never collide). `run_functions=False`
    gives the AWS endpoint and resources only. `demo=True` seeds the demo tenant, API key and data.
    `retry_delay` is how soon a message a function failed is retried (see `pollers`). `root` is where CodeUri
    paths and model_artifacts/ are found (default: the template's directory, else the current directory).
    `moto_environment` adds variables for the moto process (e.g. `S3_UPLOAD_PART_MIN_SIZE` in tests).
    `key_cache_seconds` is how long the API server trusts what it read about an API key (see `gateway.keys`).
    `log_dir` is where each function's log goes (`<FunctionLogicalId>.log`: Logger records and EMF metrics; a
    temporary directory by default) and `echo_logs` also copies those lines to this process's output.
    """

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
        api_port: int | None = None,
        run_functions: bool = True,
        demo: bool = True,
        retry_delay: float = DEFAULT_RETRY_DELAY_SECONDS,
        log_api_requests: bool = False,
        root: str | Path | None = None,
        environment: Mapping[str, str] | None = None,
        moto_environment: Mapping[str, str] | None = None,
        key_cache_seconds: float = DEFAULT_KEY_CACHE_SECONDS,
        log_dir: str | Path | None = None,
        echo_logs: bool = False,
    ) -> None:
        self.template = template
        self.parameters = dict(parameters or {})
        self.stack_name = stack_name
        self.server = LocalAwsServer(
            port=port, host=host, region=region, log_requests=log_requests, environment=moto_environment
        )
        self.api_port = api_port if api_port is not None else (0 if port == 0 else DEFAULT_API_PORT)
        self.host = host
        self.run_functions = run_functions
        self.demo = demo
        self.retry_delay = retry_delay
        self.log_api_requests = log_api_requests
        if root is None:
            root = Path(template).resolve().parent if isinstance(template, str | Path) else Path.cwd()
        self.root = Path(root)
        self.environment_overrides = dict(environment or {})
        self.key_cache_seconds = key_cache_seconds
        # Each cloud its own logs unless told where (make run: beside the state file), as each stack has its own
        # log groups: a test reads only what this cloud's functions wrote.
        self._own_log_dir = log_dir is None
        self.log_dir = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="aiqleads-logs-"))
        self.logs = FunctionLogs(self.log_dir, echo=echo_logs)
        self._resources: LocalResources | None = None
        self._model_cache: str | None = None
        self.runtime: FunctionRuntime | None = None
        self.gateway: LocalGateway | None = None
        self.pollers: QueuePollers | None = None
        self.stream_pollers: StreamPollers | None = None
        self.schedules: list[ScheduleTimer] = []
        self.demo_info: dict[str, Any] = {}
        self.notes: list[str] = []

    def start(self) -> LocalCloud:
        self.server.start()
        try:
            data = load_template(self.template) if isinstance(self.template, str | Path) else self.template
            self._resources = create_resources(
                self.server.endpoint_url,
                data,
                parameters=self.parameters,
                stack_name=self.stack_name,
                region=self.server.region,
            )
            if self.run_functions:
                self._start_functions(data)
            if self.demo:
                self._seed_demo()
            if self.runtime is not None:
                self._start_gateway_and_pollers(data)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_functions(self, data: Mapping[str, Any]) -> None:
        resources = self.resources
        specs = discover_functions(data, self.root)
        environment, notes = local_environment(
            specs, resources.resolve, aws=self.server.environment(), overrides=self._local_overrides(specs)
        )
        self.notes.extend(notes)
        names = {
            logical_id: str(resources.resolve(spec.function_name))
            if spec.function_name is not None
            else f"{self.stack_name}-{logical_id}"
            for logical_id, spec in specs.items()
        }
        self._name_resources_to_recorders()
        self.runtime = FunctionRuntime(
            specs,
            environment,
            function_names=names,
            region=resources.region,
            account_id=resources.account_id,
            logs=self.logs,
        ).start()
        for logical_id, reason in self.runtime.unavailable.items():
            self.notes.append(f"{logical_id} is not running: {reason}")

    def _name_resources_to_recorders(self) -> None:
        """Tell an active call recorder (calls.py) which physical names are which of the template's resources."""
        from .calls import active_recorders

        resources = self.resources
        names: dict[str, str] = {}
        named = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::SNS::Topic")
        for logical_id, item in resources.created.items():
            if item.type not in named:
                continue  # a bucket policy's physical id is its bucket's name, a subscription's its ARN, ...
            names[str(item.physical_id)] = logical_id
            for attribute in ("Arn", "QueueName", "TopicName"):
                if attribute in item.attributes:
                    names[str(item.attributes[attribute])] = logical_id
        for recorder in active_recorders():
            recorder.name_resources(names)

    def _local_overrides(self, specs: Mapping[str, FunctionSpec]) -> dict[str, str]:
        """The model directory: the repository's model_artifacts/, not the Lambda layer's /opt path."""
        overrides: dict[str, str] = {}
        declared = {name for spec in specs.values() for name in spec.environment}
        version = self.resources.parameters.get("ModelVersion")
        if "AIQLEADS_MODEL_DIR" in declared and version:
            overrides["AIQLEADS_MODEL_DIR"] = str(self.root / "model_artifacts" / "lead_scorer" / str(version))
        if "MODELS_BUCKET" in declared:
            # Each cloud its own artifact cache, as each Lambda sandbox has its own /tmp: a model downloaded by an
            # earlier cloud (another registry, maybe other bytes) is never what this one serves.
            self._model_cache = tempfile.mkdtemp(prefix="aiqleads-models-")
            overrides["MODEL_CACHE_DIR"] = self._model_cache
        overrides.update(self.environment_overrides)
        return overrides

    def _seed_demo(self) -> None:
        try:
            from .demo import seed_demo  # type: ignore[import-not-found,unused-ignore]
        except ModuleNotFoundError as error:
            if error.name != f"{__package__}.demo":
                raise
            self.notes.append("no demo data: infra/local_cloud/demo.py is missing")
            return
        self.demo_info = dict(seed_demo(self))

    def _start_gateway_and_pollers(self, data: Mapping[str, Any]) -> None:
        runtime, resources = self.runtime, self.resources
        assert runtime is not None
        if any(spec.api_events for spec in runtime.specs.values()):
            config = GatewayConfig.from_template(
                data,
                runtime.specs,
                resources.resolve,
                region=resources.region,
                account_id=resources.account_id,
                stack_name=self.stack_name,
            )
            apigateway = client("apigateway", self.server.endpoint_url, resources.region)
            self.gateway = LocalGateway(
                config,
                runtime.invoke,
                port=self.api_port,
                host=self.host,
                log_requests=self.log_api_requests,
                api_keys=ApiKeyCache(api_gateway_lookup(apigateway, config.usage_plans), self.key_cache_seconds),
            ).start()
        queues_by_arn = {
            item.attributes.get("Arn"): item.physical_id for item in resources.of_type("AWS::SQS::Queue").values()
        }
        pollers: list[QueuePoller] = []
        for logical_id, function in runtime.functions.items():
            for event in function.spec.sqs_events:
                if not event.enabled:
                    continue
                arn = str(resources.resolve(event.queue))
                if arn not in queues_by_arn:
                    raise LocalCloudError(f"{logical_id} {event.name}: no local queue with ARN {arn}")
                if function.handler is None:
                    continue  # unavailable (see notes): its messages stay in the queue
                pollers.append(
                    QueuePoller(
                        logical_id,
                        queues_by_arn[arn],
                        arn,
                        runtime.invoke,
                        client("sqs", self.server.endpoint_url, resources.region),
                        batch_size=event.batch_size,
                        report_batch_item_failures=event.report_batch_item_failures,
                        retry_delay=self.retry_delay,
                        region=resources.region,
                    )
                )
        self.pollers = QueuePollers(pollers).start()
        self.stream_pollers = StreamPollers(self._stream_pollers(queues_by_arn)).start()
        self._start_schedules()

    def _stream_pollers(self, queues_by_arn: Mapping[Any, str]) -> list[StreamPoller]:
        runtime, resources = self.runtime, self.resources
        assert runtime is not None
        found: list[StreamPoller] = []
        for logical_id, function in runtime.functions.items():
            for event in function.spec.dynamodb_events:
                if not event.enabled or function.handler is None:
                    continue
                on_failure = None
                if event.on_failure is not None:
                    arn = str(resources.resolve(event.on_failure))
                    if arn not in queues_by_arn:
                        raise LocalCloudError(f"{logical_id} {event.name}: OnFailure {arn} is no local queue")
                    on_failure = (client("sqs", self.server.endpoint_url, resources.region), queues_by_arn[arn])
                found.append(
                    StreamPoller(
                        logical_id,
                        str(resources.resolve(event.stream)),
                        runtime.invoke,
                        client("dynamodbstreams", self.server.endpoint_url, resources.region),
                        batch_size=event.batch_size,
                        starting_position=event.starting_position,
                        filters=event.filters,
                        report_batch_item_failures=event.report_batch_item_failures,
                        maximum_retry_attempts=event.maximum_retry_attempts,
                        on_failure=on_failure,
                        retry_delay=min(self.retry_delay, 1.0),
                        region=resources.region,
                    )
                )
        return found

    def _start_schedules(self) -> None:
        runtime, resources = self.runtime, self.resources
        assert runtime is not None
        for logical_id, function in runtime.functions.items():
            for event in function.spec.schedule_events:
                expression = str(resources.resolve(event.expression))
                period = rate_seconds(expression)
                if function.handler is None or not event.enabled:
                    continue
                if period is None:
                    self.notes.append(f"{logical_id} {event.name}: {expression} is not run locally (only rate(...))")
                    continue
                fire = functools.partial(self.fire_schedule, logical_id, event.name)
                self.schedules.append(ScheduleTimer(logical_id, event.name, period, fire).start())

    def fire_schedule(self, function_id: str, name: str | None = None) -> Any:
        """Invoke `function_id` as its schedule `name` (its only one by default) would, now; returns the result."""
        runtime, resources = self.runtime, self.resources
        if runtime is None or function_id not in runtime.functions:
            raise LocalCloudError(f"no function {function_id!r} is running")
        events = runtime.functions[function_id].spec.schedule_events
        event = next((e for e in events if name in (None, e.name)), None)
        if event is None:
            raise LocalCloudError(f"{function_id} has no schedule {name or ''}".rstrip())
        rule = (
            f"arn:aws:events:{resources.region}:{resources.account_id}:rule/{self.stack_name}-{function_id}{event.name}"
        )
        return runtime.invoke(function_id, scheduled_event(rule, resources.region, resources.account_id))

    def stop(self) -> None:
        """Stop everything in reverse order of start; safe to call twice or after a failed start."""
        pollers, gateway, runtime = self.pollers, self.gateway, self.runtime
        stream_pollers, self.stream_pollers = self.stream_pollers, None
        self.pollers = self.gateway = self.runtime = None
        for timer in self.schedules:
            timer.stop()
        self.schedules = []
        if stream_pollers is not None:
            stream_pollers.stop()
        if pollers is not None:
            pollers.stop()
        if gateway is not None:
            gateway.stop()
        if runtime is not None:
            runtime.stop()
        self._resources = None
        self.server.stop()
        if self._model_cache is not None:
            shutil.rmtree(self._model_cache, ignore_errors=True)
            self._model_cache = None
        if self._own_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)

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
        well_known = {
            key: resources.ref(logical_id) for key, logical_id in WELL_KNOWN.items() if logical_id in resources.created
        }
        api: dict[str, Any] = {}
        if self.gateway is not None:
            api = {"api_url": self.gateway.url, "api_port": self.gateway.port, "stage": self.gateway.config.stage}
        info: dict[str, Any] = {
            **api,
            "aws_endpoint_url": summary.pop("aws_endpoint_url"),
            "region": summary.pop("region"),
            **well_known,
            **self.demo_info,
            **summary,
        }
        if self.runtime is not None:
            info["logs"] = {logical_id: str(self.logs.path(logical_id)) for logical_id in self.runtime.functions}
            pollers = self.pollers.pollers if self.pollers is not None else []
            info["functions"] = {
                logical_id: {
                    "function_name": function.function_name,
                    "handler": str(function.spec.module_file),
                    "routes": [f"{event.method} {event.path}" for event in function.spec.api_events],
                    "queues": [poller.queue_url for poller in pollers if poller.function_id == logical_id],
                    "schedules": [str(self.resources.resolve(e.expression)) for e in function.spec.schedule_events],
                    "running": function.handler is not None,
                }
                for logical_id, function in self.runtime.functions.items()
            }
        info["notes"] = [*info.get("notes", []), *self.notes]
        return info


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
