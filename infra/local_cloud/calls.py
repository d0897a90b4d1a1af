"""Every AWS call the local functions make, as the IAM authorisations AWS would check for it.

    with CallRecorder() as recorder:          # before the functions start: it hooks every client made after it
        with LocalCloud(...) as cloud: ...    # the cloud names its resources to the recorder
    recorder.calls                            # {(function logical id, Request by logical id), ...}

A call belongs to the function whose invocation makes it (`functions.current_function`, a context variable the
runtime sets around each invocation); work the invocation hands to a thread pool (the per-market queries, the bulk
writers, s3transfer's part uploads) carries it along, because while recording `ThreadPoolExecutor.submit` runs
each task in a copy of the submitter's context. Calls outside an invocation (the local cloud's own set-up, the
pollers' ReceiveMessage and DeleteMessage, which Lambda's event-source mapping makes in AWS, tests' own clients)
belong to no function and are not kept.

The hook is botocore's `provide-client-params` event on every client a function creates while recording (clients
are made per process on first use, inside an invocation, and the runtime resets them when it starts; clients made
outside one, such as a harness's inspector that reads items while a function's call is metered, are not hooked),
so it sees the parameters as the code passed them, before any handler rewrites the request.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading
from collections.abc import Callable, Mapping
from typing import Any

import botocore.session

from infra.iam.actions import Request, requests_of

from .functions import current_function

_active: list[CallRecorder] = []


class CallRecorder:
    def __init__(self) -> None:
        self.calls: set[tuple[str, Request]] = set()
        self.unnamed: set[tuple[str, Request]] = set()  # resources no running cloud named (reported by tests)
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()
        self._saved: tuple[Any, Any] | None = None

    # ---------------------------------------------------------------- resources
    def name_resources(self, names: Mapping[str, str]) -> None:
        """Physical names (table and bucket names, queue URLs and names, topic ARNs) -> logical ids."""
        with self._lock:
            self._names.update(names)

    def _logical(self, name: str) -> str | None:
        if name in self._names:
            return self._names[name]
        tail = name.rstrip("/").rsplit("/", 1)[-1]  # a queue URL on another cloud's port: its name
        return self._names.get(tail)

    # ---------------------------------------------------------------- recording
    def record(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        function = current_function.get()
        if function is None:
            return
        for request in requests_of(service, operation, params):
            logical = self._logical(request.resource)
            with self._lock:
                if logical is None:
                    self.unnamed.add((function, request))
                else:
                    self.calls.add((function, Request(request.action, logical, request.path)))

    def _hook(self, client: Any) -> None:
        service = client.meta.service_model.service_name

        def provide(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.record(service, model.name, params)

        client.meta.events.register("provide-client-params", provide, unique_id="aiqleads-call-recorder")

    # ---------------------------------------------------------------- install
    def __enter__(self) -> CallRecorder:
        create_client, submit = botocore.session.Session.create_client, concurrent.futures.ThreadPoolExecutor.submit
        self._saved = (create_client, submit)
        recorder = self

        def recording_create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            created = create_client(session, *args, **kwargs)
            if current_function.get() is not None:  # a function's own client (they are made on first use)
                recorder._hook(created)
            return created

        def submit_in_context(executor: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            return submit(executor, contextvars.copy_context().run, fn, *args, **kwargs)

        botocore.session.Session.create_client = recording_create_client
        concurrent.futures.ThreadPoolExecutor.submit = submit_in_context  # type: ignore[method-assign]
        _active.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        if self._saved is not None:
            botocore.session.Session.create_client, concurrent.futures.ThreadPoolExecutor.submit = self._saved  # type: ignore[method-assign]
            self._saved = None
        if self in _active:
            _active.remove(self)


def active_recorders() -> list[CallRecorder]:
    return list(_active)
