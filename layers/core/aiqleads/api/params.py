"""Path parameters shared by routes: an id a client chose is checked against the one id alphabet (a 422 naming
the parameter, stated in the OpenAPI as its pattern), so no malformed id reaches a table key."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from aiqleads.models import ID_PATTERN, TEXT_MAX

ClientIdPath = Annotated[
    str, Path(min_length=1, max_length=TEXT_MAX["id"], pattern=ID_PATTERN, description=f"an id: {ID_PATTERN}")
]
