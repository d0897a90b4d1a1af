"""Domain errors: each knows its HTTP status and stable code; the API maps them to the error envelope."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


# Every error the API answers (REST, batch items, job lines). A comment, not a docstring: that would change the
# schema in openapi.json.
class ErrorEnvelope(BaseModel):
    error: ErrorBody

    @classmethod
    def of(cls, code: str, message: str, details: Any = None) -> dict[str, Any]:
        return cls(error=ErrorBody(code=code, message=message, details=details)).model_dump()


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details

    def envelope(self) -> dict[str, Any]:
        return ErrorEnvelope.of(self.code, self.message, self.details)


class InvalidInput(DomainError):
    status = 422
    code = "validation_error"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


NOT_JSON = "send the body as application/json"
