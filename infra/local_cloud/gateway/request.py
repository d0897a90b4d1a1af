"""One request as the gateway sees it, and the reply it sends back."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import parse_qsl, urlsplit

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110's field name


def sendable(name: str, value: str) -> bool:
    """Whether HTTP/1.1 can carry this header: a token name, and a Latin-1 value without CR, LF or NUL."""
    if not _TOKEN.fullmatch(name) or any(c in value for c in "\r\n\0"):
        return False
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def segments(path: str) -> list[str]:
    return [segment for segment in path.strip("/").split("/") if segment]


@dataclass(frozen=True)
class Request:
    method: str  # upper case
    target: str  # as the client sent it: /<stage>/<path>?<query>
    headers: list[tuple[str, str]]  # as sent, repeated names included
    source_ip: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.time)
    path_parameters: Mapping[str, str] = field(default_factory=dict)  # known once a route matched

    @cached_property
    def _parts(self) -> tuple[list[str], str]:
        parts = urlsplit(self.target)
        return segments(parts.path), parts.query

    @property
    def stage(self) -> str | None:
        path, _ = self._parts
        return path[0] if path else None

    @property
    def path(self) -> str:
        """The path without the stage, e.g. /v1/leads/abc."""
        path, _ = self._parts
        return "/" + "/".join(path[1:])

    @property
    def query(self) -> str:
        return self._parts[1]

    @cached_property
    def query_values(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    @cached_property
    def header_values(self) -> dict[str, str]:
        """Lower-cased names; a repeated header's last value, as API Gateway's single-value view has it."""
        return {name.lower(): value for name, value in self.headers}

    def header(self, name: str) -> str | None:
        return self.header_values.get(name.lower())


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
