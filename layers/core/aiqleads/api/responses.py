"""Responses whose status is not the resolver's default 200 (created, accepted), with their Location."""

from __future__ import annotations

from typing import TypeVar

from aws_lambda_powertools.event_handler import Response, content_types

T = TypeVar("T")


def json_response(status: int, body: T, location: str | None = None) -> Response[T]:
    headers = {"Location": location} if location else None
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)
