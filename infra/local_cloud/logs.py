"""Each local function's log, as CloudWatch Logs keeps one per function: `<log dir>/<FunctionLogicalId>.log`.

In Lambda whatever a function writes to stdout or stderr becomes its log (Powertools Logger's JSON records and
the EMF lines Metrics prints on flush among them). Locally every function runs in this one process, so
`FunctionLogs` puts a stream in front of sys.stdout and sys.stderr that sends a write to the log of the function
whose invocation is running in the writing thread (`functions.current_function`) and passes anything else on.

    logs = FunctionLogs(directory)         # echo=True: also to the terminal, as `make run` shows them
    logs.add("ApiFunction"); logs.install()
    logs.lines("ApiFunction")              # what the api function has written so far, one per line
    logs.uninstall()

Lines are kept whole: each record arrives as one or more writes ending in a newline, and a line is written to
the file only when complete. Threads a handler starts itself do not inherit its context, so what they print goes
to the process's own output.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
from pathlib import Path
from typing import TextIO

from .functions import current_function

# The functions whose output is being kept, by logical id; one router per stream for the whole process, because
# Powertools' Logger keeps the stream it was created with for as long as the process lives.
_ACTIVE: dict[str, FunctionLogs] = {}


class _Router(io.TextIOBase):
    """A text stream: a function's writes to its log, the rest to the stream it stands in front of."""

    def __init__(self, name: str, downstream: TextIO) -> None:
        self.name = name
        self.downstream = downstream

    def write(self, text: str) -> int:
        function = current_function.get()
        logs = None if function is None else _ACTIVE.get(function)
        if logs is None or function is None:
            return self._pass_on(text)
        logs.write(function, text)
        if logs.echo:
            self._pass_on(text)
        return len(text)

    def _pass_on(self, text: str) -> int:
        target = getattr(sys, self.name)
        if target is self:
            target = self.downstream
        try:
            return target.write(text)
        except ValueError:  # closed: pytest's capture of an earlier test, say
            stream = sys.__stdout__ if self.name == "stdout" else sys.__stderr__
            return stream.write(text) if stream is not None else len(text)

    def flush(self) -> None:
        with contextlib.suppress(ValueError):
            self.downstream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False


_ROUTERS: dict[str, _Router] = {}


def _router(name: str) -> _Router:
    if name not in _ROUTERS:
        _ROUTERS[name] = _Router(name, getattr(sys, name))
    return _ROUTERS[name]


def _repoint_powertools_loggers(router: _Router) -> None:
    """A Powertools Logger created before the router (by a test importing the API app, say) writes to the stdout
    of that moment: point its handler at the router, where Lambda would have captured it anyway."""
    loggers = [logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict)]
    for logger in loggers:
        if not getattr(logger, "init", False):  # Powertools marks the loggers it configured
            continue
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler and handler.stream is not router:
                try:
                    handler.setStream(router)
                except ValueError:  # its stream was closed (pytest's capture of an earlier test): nothing to flush
                    handler.stream = router


class FunctionLogs:
    """The per-function log files of one local cloud, under `directory`."""

    def __init__(self, directory: str | Path, *, echo: bool = False) -> None:
        self.directory = Path(directory)
        self.echo = echo
        self._functions: set[str] = set()
        self._pending: dict[str, str] = {}
        self._lock = threading.Lock()

    def path(self, logical_id: str) -> Path:
        return self.directory / f"{logical_id}.log"

    def add(self, logical_id: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path(logical_id).touch()
        self._functions.add(logical_id)
        _ACTIVE[logical_id] = self

    def write(self, logical_id: str, text: str) -> None:
        with self._lock:
            pending = self._pending.get(logical_id, "") + text
            complete, _, rest = pending.rpartition("\n")
            self._pending[logical_id] = rest
            if complete:
                with self.path(logical_id).open("a", encoding="utf-8") as file:
                    file.write(complete + "\n")

    def lines(self, logical_id: str) -> list[str]:
        path = self.path(logical_id)
        with self._lock:
            return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []

    def all_lines(self) -> dict[str, list[str]]:
        return {logical_id: self.lines(logical_id) for logical_id in sorted(self._functions)}

    def install(self) -> FunctionLogs:
        """Stand in front of sys.stdout and sys.stderr (again, if something replaced them since)."""
        for name in ("stdout", "stderr"):
            router, current = _router(name), getattr(sys, name)
            if current is not router:
                router.downstream = current
                setattr(sys, name, router)
        _repoint_powertools_loggers(_router("stdout"))
        return self

    def uninstall(self) -> None:
        for logical_id in self._functions:
            if _ACTIVE.get(logical_id) is self:
                del _ACTIVE[logical_id]
        self._functions = set()
        if not _ACTIVE:
            for name, router in _ROUTERS.items():
                if getattr(sys, name) is router:
                    setattr(sys, name, router.downstream)
