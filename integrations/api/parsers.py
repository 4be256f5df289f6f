"""The API's JSON parser: a size cap and a depth cap (connectors.jsonlimits).

DRF reads the request stream itself, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not apply
to JSON bodies; without a cap one request could make a worker read any amount.
"""

from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from connectors.jsonlimits import JSONLimitError, json_loads_limited


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "body_too_large"


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"The request body exceeds {limit} bytes.")
        try:
            return json_loads_limited(raw, max_depth=settings.API_MAX_JSON_DEPTH)
        except JSONLimitError as exc:
            raise ParseError(f"JSON parse error: {exc}") from None
