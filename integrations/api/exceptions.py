"""One error shape for every API failure: {"message": "...", "extra": {...}}."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from integrations.services.records import RecordActionError

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An API-level refusal with a reason; `extra` carries structured detail."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "bad request"

    def __init__(
        self, message: str, *, extra: dict[str, Any] | None = None, status_code: int = 400
    ):
        super().__init__(message)
        self.status_code = status_code
        self.extra = extra or {}


def _message(detail: Any) -> str:
    if isinstance(detail, dict):
        parts = [f"{k}: {_message(v)}" for k, v in detail.items()]
        return "; ".join(parts) or "invalid input"
    if isinstance(detail, list):
        return "; ".join(_message(v) for v in detail) or "invalid input"
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error as {"message", "extra"} with a reason; database refusals become 4xx."""
    if isinstance(exc, RecordActionError):
        exc = ApiError(str(exc), status_code=status.HTTP_409_CONFLICT)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, IntegrityError):
        logger.info("API write refused by a database constraint: %s", exc)
        exc = ApiError(
            "the change conflicts with existing data (a unique or protected relation)",
            extra={"reason": "integrity"},
            status_code=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, DataError):
        logger.info("API input refused by the database: %s", exc)
        exc = ApiError(
            "a value is out of range or not storable", extra={"reason": "data"}, status_code=400
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "not found")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = getattr(exc, "detail", None)
    if isinstance(exc, ApiError):
        extra: dict[str, Any] = dict(exc.extra)
    elif isinstance(exc, exceptions.ValidationError):
        extra = {"fields": detail if isinstance(detail, dict) else {"non_field_errors": detail}}
    else:
        extra = {"code": getattr(detail, "code", None) or exc.__class__.__name__.lower()}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        extra["retry_after_seconds"] = int(exc.wait)
    response.data = {"message": _message(detail), "extra": extra}
    return response
