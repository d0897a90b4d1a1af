"""Responses whose status is not the resolver's default 200 (created, accepted), with their Location."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote

from aws_lambda_powertools.event_handler import Response, content_types

T = TypeVar("T")


def json_response(status: int, body: T, location: str | None = None) -> Response[T]:
    # Percent-encoded: a header value must be Latin-1 without CR/LF, and a path's ids must read back as sent.
    headers = {"Location": quote(location, safe="/:@")} if location else None
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)
