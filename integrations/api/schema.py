"""OpenAPI post-processing: every operation documents the one error shape it may return."""

from typing import Any

ERROR_COMPONENT = "ApiError"
# Statuses any operation may answer with, besides its own: bad input, no or wrong
# credentials, not allowed, unknown object or cursor, unacceptable format, too many requests.
COMMON_ERRORS = {
    "400": "Invalid input; `message` says which parameter and why.",
    "401": "No or invalid credentials.",
    "403": "Authenticated, but without the permission this needs.",
    "404": "No such object, page cursor or format.",
    "405": "Method not allowed.",
    "406": "The requested format is not available.",
    "415": "Unsupported request media type.",
    "429": "Too many requests for this token; retry after `extra.retry_after_seconds`.",
}
WRITE_ERRORS = {"409": "Conflicts with existing data or the record's state."}


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_COMPONENT] = {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "extra": {"type": "object", "additionalProperties": {}},
        },
        "required": ["message", "extra"],
    }
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            # An error answers in the media type the client asked for (JSON, or CSV on reports).
            media = {"application/json"}
            for response in operation["responses"].values():
                media.update((response.get("content") or {}).keys())
            error_content = {m: {"schema": ref} for m in sorted(media)}
            errors = dict(COMMON_ERRORS)
            if method in ("post", "put", "patch", "delete"):
                errors.update(WRITE_ERRORS)
            for code, description in errors.items():
                operation["responses"].setdefault(
                    code,
                    {"description": description, "content": error_content},
                )
            # 409 from a view's own extend_schema has no body schema: give it the error shape.
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")) and "content" not in response:
                    response["content"] = error_content
    return result
