"""The template's functions, run in this process as Lambda would run them: environment, handler, context.

    specs = discover_functions(template, root)              # every AWS::Serverless::Function, Globals merged
    runtime = FunctionRuntime(specs, environment).start()   # sets os.environ, imports every handler
    runtime.invoke("ApiFunction", event)                    # a fresh context per call; one call at a time

`discover_functions` reads what the local cloud needs from each function: CodeUri + Handler (`handler.handler` is
the attribute `handler` of `<CodeUri>/handler.py`), Timeout and MemorySize (Globals.Function merged, Lambda's
defaults otherwise), Environment, and its events (Api: path, method, Auth overrides; SQS: queue, BatchSize,
FunctionResponseTypes).

All functions share one process, so they share `os.environ`: the runtime sets the union of their (resolved)
variables once, before importing any handler, and restores the previous environment on `stop()`. A variable that
two functions set to different values is reported in `notes` (the last function's value wins). Each handler module
is imported from its file under its own name (`aiqleads_function_<codeuri dir>`), so functions never clash.
A function's invocations are serialised, as one warm Lambda instance would serve them (the Powertools resolvers
keep the current event on the app object and are not meant to be shared between threads).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .server import ACCOUNT_ID, REGION, LocalCloudError

if TYPE_CHECKING:
    from .logs import FunctionLogs

FUNCTION_TYPE = "AWS::Serverless::Function"
LAMBDA_DEFAULT_TIMEOUT = 3
LAMBDA_DEFAULT_MEMORY = 128
MODULE_PREFIX = "aiqleads_function_"

# Set for every local function. Tracing off: there is no X-Ray daemon here, and the SDK would complain on every
# segment it cannot send (in AWS the template's `Tracing: Active` leaves it on). Metrics stay on: their EMF lines
# land in each function's log (logs.py), as CloudWatch would receive them. One service name: every function
# shares this process, and Powertools keys its loggers by service name, so per-function names would make one
# function's records carry another's name; the log file says which function wrote a line.
POWERTOOLS_LOCAL_ENVIRONMENT = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "aiqleads",
}

# Webhook delivery, compressed so a demo shows it: retries within about a minute instead of a day, and receivers on
# this machine (127.0.0.1 / ::1, over http too) allowed. In AWS none of this is set: https and public addresses only.
WEBHOOK_LOCAL_ENVIRONMENT = {
    "WEBHOOK_ALLOW_LOOPBACK": "true",
    "WEBHOOK_RETRY_SCHEDULE": "1s,2s,4s,8s,15s,30s",
    "WEBHOOK_DISABLE_AFTER": "10m",
}


# The logical id of the function whose invocation is running in this context (None outside any invocation): the
# call recorder (calls.py) attributes AWS calls by it.
current_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_function", default=None)


class FunctionUnavailableError(LocalCloudError):
    """A function whose handler cannot be run (missing file or attribute); the message says why."""


# ---------------------------------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class ApiEvent:
    """An `Api` event: one route of a REST API."""

    name: str
    path: str
    method: str  # upper case; ANY matches every method
    rest_api_id: str | None  # the Api resource's logical id (None: SAM's implicit ServerlessRestApi)
    authorizer: str | None = None  # Auth.Authorizer override: a name, "NONE", or None for the API's default
    api_key_required: bool | None = None  # Auth.ApiKeyRequired override


@dataclass(frozen=True)
class SqsEvent:
    """An `SQS` event source mapping."""

    name: str
    queue: Any  # the Queue property as written (usually !GetAtt <Queue>.Arn); resolve it against the resources
    batch_size: int = 10
    report_batch_item_failures: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class DynamoDBEvent:
    """A `DynamoDB` event source mapping: a table's stream (see streams.py for what the local cloud applies)."""

    name: str
    stream: Any  # the Stream property as written (usually !GetAtt <Table>.StreamArn)
    starting_position: str = "TRIM_HORIZON"
    batch_size: int = 100
    filters: tuple[Any, ...] = ()  # FilterCriteria's patterns, parsed and checked
    report_batch_item_failures: bool = False
    maximum_retry_attempts: int = -1
    on_failure: Any = None  # DestinationConfig.OnFailure.Destination as written (an SQS queue's ARN)
    enabled: bool = True


@dataclass(frozen=True)
class ScheduleEvent:
    """A `Schedule` event: EventBridge invokes the function on `expression` (rate(...) or cron(...))."""

    name: str
    expression: Any  # as written (often !Sub); resolve it against the parameters
    enabled: bool = True


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str  # as written: "handler.handler"
    timeout: float
    memory_mb: int
    environment: Mapping[str, Any]  # Globals' and the function's variables, merged, not yet resolved
    function_name: Any = None  # the FunctionName property as written, if any
    api_events: tuple[ApiEvent, ...] = ()
    sqs_events: tuple[SqsEvent, ...] = ()
    dynamodb_events: tuple[DynamoDBEvent, ...] = ()
    schedule_events: tuple[ScheduleEvent, ...] = ()

    @property
    def module_file(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_uri / (module.replace(".", "/") + ".py")

    @property
    def attribute(self) -> str:
        return self.handler.rpartition(".")[2]

    @property
    def module_name(self) -> str:
        """A name no other function uses: `aiqleads_function_api` for functions/api/."""
        slug = re.sub(r"\W+", "_", self.code_uri.name or self.logical_id).strip("_").lower()
        return f"{MODULE_PREFIX}{slug or self.logical_id.lower()}"


def logical_id_of(value: Any) -> str | None:
    """The logical id in `!Ref X` / `!GetAtt X.Attr` (long form), else None."""
    if isinstance(value, dict) and len(value) == 1:
        (key, argument), *_ = value.items()
        if key == "Ref" and isinstance(argument, str):
            return argument.split(".", 1)[0]
        if key == "Fn::GetAtt":
            if isinstance(argument, str):
                return argument.split(".", 1)[0]
            if isinstance(argument, list) and argument:
                return str(argument[0])
    return None


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _api_event(name: str, properties: Mapping[str, Any]) -> ApiEvent:
    auth = properties.get("Auth") or {}
    authorizer = auth.get("Authorizer")
    return ApiEvent(
        name=name,
        path=str(properties["Path"]),
        method=str(properties.get("Method", "any")).upper(),
        rest_api_id=logical_id_of(properties.get("RestApiId")),
        authorizer=None if authorizer is None else str(authorizer),
        api_key_required=None if "ApiKeyRequired" not in auth else _bool(auth["ApiKeyRequired"], False),
    )


def _sqs_event(name: str, properties: Mapping[str, Any]) -> SqsEvent:
    return SqsEvent(
        name=name,
        queue=properties["Queue"],
        batch_size=int(properties.get("BatchSize", 10)),
        report_batch_item_failures="ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or []),
        enabled=_bool(properties.get("Enabled"), True),
    )


def _dynamodb_event(name: str, properties: Mapping[str, Any]) -> DynamoDBEvent:
    from .streams import parse_filters

    on_failure = ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    return DynamoDBEvent(
        name=name,
        stream=properties["Stream"],
        starting_position=str(properties.get("StartingPosition", "TRIM_HORIZON")),
        batch_size=int(properties.get("BatchSize", 100)),
        filters=tuple(parse_filters(properties.get("FilterCriteria"))),
        report_batch_item_failures="ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or []),
        maximum_retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
        on_failure=on_failure,
        enabled=_bool(properties.get("Enabled"), True),
    )


def discover_functions(template: Mapping[str, Any], root: str | Path = ".") -> dict[str, FunctionSpec]:
    """Every `AWS::Serverless::Function` of `template` (CodeUri relative to `root`), in template order."""
    root = Path(root)
    globals_function = (template.get("Globals") or {}).get("Function") or {}
    global_variables = (globals_function.get("Environment") or {}).get("Variables") or {}
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") != FUNCTION_TYPE:
            continue
        properties = {**globals_function, **(resource.get("Properties") or {})}
        if "CodeUri" not in properties or "Handler" not in properties:
            raise LocalCloudError(
                f"{logical_id}: the local cloud needs a CodeUri and a Handler (inline code is not run)"
            )
        own_variables = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        api_events: list[ApiEvent] = []
        sqs_events: list[SqsEvent] = []
        dynamodb_events: list[DynamoDBEvent] = []
        schedule_events: list[ScheduleEvent] = []
        for event_name, event in (properties.get("Events") or {}).items():
            kind = event.get("Type") if isinstance(event, dict) else None
            event_properties = (event.get("Properties") or {}) if isinstance(event, dict) else {}
            if kind == "Api":
                api_events.append(_api_event(event_name, event_properties))
            elif kind == "SQS":
                sqs_events.append(_sqs_event(event_name, event_properties))
            elif kind == "DynamoDB":
                dynamodb_events.append(_dynamodb_event(event_name, event_properties))
            elif kind == "Schedule":
                schedule_events.append(
                    ScheduleEvent(
                        event_name, event_properties.get("Schedule"), _bool(event_properties.get("Enabled"), True)
                    )
                )
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_uri=root / str(properties["CodeUri"]),
            handler=str(properties["Handler"]),
            timeout=float(properties.get("Timeout", LAMBDA_DEFAULT_TIMEOUT)),
            memory_mb=int(properties.get("MemorySize", LAMBDA_DEFAULT_MEMORY)),
            environment={**global_variables, **own_variables},
            function_name=properties.get("FunctionName"),
            api_events=tuple(api_events),
            sqs_events=tuple(sqs_events),
            dynamodb_events=tuple(dynamodb_events),
            schedule_events=tuple(schedule_events),
        )
    return specs


# ---------------------------------------------------------------------------------------------------- context


@dataclass
class LambdaContext:
    """What Lambda passes as `context` (the attributes Powertools and most handlers read)."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_seconds: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self._deadline:
            self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# ---------------------------------------------------------------------------------------------------- running


def load_handler(spec: FunctionSpec) -> Callable[[Any, Any], Any]:
    """Import `spec`'s handler file under its own module name and return the handler callable."""
    path = spec.module_file
    if not path.is_file():
        raise FunctionUnavailableError(f"{spec.logical_id}: no handler file {path}")
    module_spec = importlib.util.spec_from_file_location(spec.module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise FunctionUnavailableError(f"{spec.logical_id}: cannot import {path}")
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    sys.modules[spec.module_name] = module  # dataclasses, pickling and typing look modules up by name
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.module_name, None)
        raise
    handler = getattr(module, spec.attribute, None)
    if not callable(handler):
        raise FunctionUnavailableError(f"{spec.logical_id}: {path} has no callable {spec.attribute!r}")
    return handler


class LocalFunction:
    """One function: its handler, its name and ARN, and a lock (one invocation at a time, like one instance)."""

    def __init__(
        self,
        spec: FunctionSpec,
        handler: Callable[[Any, Any], Any] | None,
        *,
        function_name: str,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        unavailable: str | None = None,
        logs: FunctionLogs | None = None,
    ) -> None:
        self.spec = spec
        self.logs = logs
        self.handler = handler
        self.function_name = function_name
        self.arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.unavailable = unavailable
        self._lock = threading.Lock()

    def context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.function_name,
            memory_limit_in_mb=self.spec.memory_mb,
            invoked_function_arn=self.arn,
            aws_request_id=str(uuid.uuid4()),
            timeout_seconds=self.spec.timeout,
            log_group_name=f"/aws/lambda/{self.function_name}",
            log_stream_name=f"local/{self.function_name}",
        )

    def invoke(self, event: Any) -> Any:
        """Run the handler on `event`; its exceptions propagate. Longer than Timeout is reported, not killed."""
        if self.handler is None:
            raise FunctionUnavailableError(self.unavailable or f"{self.spec.logical_id} is not loaded")
        with self._lock:
            if self.logs is not None:
                self.logs.install()  # again: pytest, for one, puts its own sys.stdout back between tests
            started = time.monotonic()
            token = current_function.set(self.spec.logical_id)
            try:
                with _metrics_scope():
                    return self.handler(event, self.context())
            finally:
                current_function.reset(token)
                elapsed = time.monotonic() - started
                if elapsed > self.spec.timeout:
                    print(
                        f"local cloud: {self.spec.logical_id} ran {elapsed:.1f}s, over its Timeout of "
                        f"{self.spec.timeout:g}s (Lambda would have stopped it)",
                        file=sys.stderr,
                    )


def local_environment(
    specs: Mapping[str, FunctionSpec],
    resolve: Callable[[Any], Any],
    *,
    aws: Mapping[str, str],
    overrides: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The one environment all functions share: every function's variables resolved with `resolve`, then the AWS
    endpoint variables (`aws`), the Powertools local settings and `overrides`. Returns it with notes on conflicts."""
    environment: dict[str, str] = {}
    owner: dict[str, str] = {}
    notes: list[str] = []
    for logical_id, spec in specs.items():
        for name, value in resolve(dict(spec.environment)).items():
            text = str(value)
            if name in environment and environment[name] != text and name not in POWERTOOLS_LOCAL_ENVIRONMENT:
                notes.append(
                    f"{logical_id} sets {name}={text!r} but {owner[name]} sets {environment[name]!r}: all local "
                    f"functions share one process environment, so {logical_id}'s value is used"
                )
            environment[name], owner[name] = text, logical_id
    environment.update(aws)
    environment.update(POWERTOOLS_LOCAL_ENVIRONMENT)
    environment.update(WEBHOOK_LOCAL_ENVIRONMENT)
    environment.update(overrides or {})
    return environment, notes


def _metrics_scope() -> contextlib.AbstractContextManager[None]:
    """The invocation's own pending metrics: in Lambda a process serves one invocation at a time, here several
    functions run at once in threads of one process, and a flush must print only what its own invocation counted."""
    try:
        from aiqleads.telemetry import isolated
    except ImportError:  # a template whose functions do not use aiqleads
        return contextlib.nullcontext()
    return isolated()


def _reset_process_caches() -> None:
    """Clients and services that aiqleads built from the previous environment (another cloud's endpoint and
    queue URLs) must not outlive it: in Lambda a new configuration is a new process."""
    try:
        from aiqleads.process_cache import reset
        from aiqleads.telemetry import configure_from_environment
    except ImportError:  # a template whose functions do not use aiqleads
        return
    reset()
    configure_from_environment()


class FunctionRuntime:
    """Every function of the template, loaded into this process with the shared environment."""

    def __init__(
        self,
        specs: Mapping[str, FunctionSpec],
        environment: Mapping[str, str],
        *,
        function_names: Mapping[str, str] | None = None,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        logs: FunctionLogs | None = None,
    ) -> None:
        self.specs = dict(specs)
        self.logs = logs
        self.environment = dict(environment)
        self.function_names = dict(function_names or {})
        self.region = region
        self.account_id = account_id
        self.functions: dict[str, LocalFunction] = {}
        self._previous_environment: dict[str, str | None] | None = None

    def start(self) -> FunctionRuntime:
        """Set the environment, then import every handler. A missing handler file leaves that function
        unavailable (its routes answer 502 and its queues are not polled, with the reason in `unavailable`);
        a handler that fails to import stops the start-up with its traceback."""
        if self._previous_environment is not None:
            return self
        self._previous_environment = {name: os.environ.get(name) for name in self.environment}
        os.environ.update(self.environment)
        _reset_process_caches()
        if self.logs is not None:  # before the imports: a Logger keeps the stream it was created with
            for logical_id in self.specs:
                self.logs.add(logical_id)
            self.logs.install()
        try:
            for logical_id, spec in self.specs.items():
                name = self.function_names.get(logical_id, logical_id)
                try:
                    handler = load_handler(spec)
                except FunctionUnavailableError as error:
                    self.functions[logical_id] = LocalFunction(
                        spec, None, function_name=name, region=self.region, account_id=self.account_id,
                        unavailable=str(error), logs=self.logs,
                    )  # fmt: skip
                    continue
                except Exception as error:
                    raise LocalCloudError(
                        f"{logical_id}: importing {spec.module_file} failed:\n{traceback.format_exc()}"
                    ) from error
                self.functions[logical_id] = LocalFunction(
                    spec, handler, function_name=name, region=self.region, account_id=self.account_id, logs=self.logs
                )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Forget the handlers and restore the environment as it was before `start()`."""
        for function in self.functions.values():
            sys.modules.pop(function.spec.module_name, None)
        self.functions = {}
        if self.logs is not None:
            self.logs.uninstall()
        previous, self._previous_environment = self._previous_environment, None
        for name, value in (previous or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reset_process_caches()

    @property
    def unavailable(self) -> dict[str, str]:
        """Functions that could not be loaded, with the reason."""
        return {name: str(item.unavailable) for name, item in self.functions.items() if item.handler is None}

    def invoke(self, logical_id: str, event: Any) -> Any:
        try:
            function = self.functions[logical_id]
        except KeyError:
            raise FunctionUnavailableError(f"no function named {logical_id!r} is running") from None
        return function.invoke(event)
