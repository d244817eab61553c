"""OpenAPI post-processing: the error answers every operation can give, documented once.

DRF answers errors the same way in every view (``{"detail": "..."}``, or the field errors of a
400), so instead of repeating them on ~100 operations this hook adds them to each one. An
operation that documents its own body for one of these codes (the bulk endpoint's per-item
results, a write's 409 with its deployments) keeps it, and may also answer the plain error:
both are allowed (``anyOf``).
"""

from __future__ import annotations

from typing import Any

ERROR = "Error"
VALIDATION_ERROR = "ValidationError"

#: What any operation may answer besides its success, and why.
STANDARD_ERRORS: dict[str, tuple[str, str]] = {
    "400": (VALIDATION_ERROR, "Invalid input: the body says which field or parameter, and why."),
    "401": (ERROR, "Not authenticated (no or an invalid token or session)."),
    "403": (ERROR, "Not allowed: not your object, staff only, or a read-only token on a write."),
    "404": (ERROR, "No such object (or not one you may see)."),
    "405": (ERROR, "Method not allowed on this path."),
    "429": (ERROR, "Too many requests (for example, too many waiting at once): retry later."),
}

SCHEMAS: dict[str, dict[str, Any]] = {
    ERROR: {
        "type": "object",
        "description": "An error: what went wrong, in words.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    VALIDATION_ERROR: {
        "type": "object",
        "description": (
            "Invalid input: each key is a field or query parameter (``non_field_errors`` for the "
            "whole body, ``detail`` for a malformed request) and says what is wrong with it, as a "
            "list of messages (or, for nested objects and lists, their errors in the same form)."
        ),
        "additionalProperties": {},
    },
}

METHODS = {"get", "put", "post", "delete", "patch"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the standard error responses on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code, (name, description) in STANDARD_ERRORS.items():
                _document(responses, code, name, description)
            body = operation.get("requestBody")
            if body is not None:
                # A write without a body is a 400 (rest.RequireBodyMiddleware): ``{}`` is the way
                # to send nothing, so the body is required even where every field is optional.
                body["required"] = True
                _document(
                    responses, "415", ERROR, "The body is not JSON: application/json is the only type taken."
                )
            # 409 and 412 only where a view answers them; the plain error is always allowed there.
            for code in ("409", "412"):
                if code in responses:
                    _document(responses, code, ERROR, "")
    _path_fields_optional_in_puts(result)
    return result


def _path_fields_optional_in_puts(result: dict[str, Any]) -> None:
    """A PUT to ``…/{name}/`` takes the name from its URL: the body may leave it out.

    Request and response share one component (the answer always carries the name), so each such
    PUT gets a copy of its body's component with the path's fields no longer required.
    """
    schemas = result["components"]["schemas"]
    for path_item in result.get("paths", {}).values():
        operation = path_item.get("put")
        if not operation or "requestBody" not in operation:
            continue
        in_path = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"}
        for media in operation["requestBody"].get("content", {}).values():
            ref = media.get("schema", {}).get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            component = schemas.get(name)
            if not component or not in_path & set(component.get("required", [])):
                continue
            put_name = f"{name}Put"
            if put_name not in schemas:
                copy = dict(component)
                copy["required"] = [f for f in component["required"] if f not in in_path]
                schemas[put_name] = copy
            media["schema"] = _ref(put_name)


def _document(responses: dict[str, Any], code: str, name: str, description: str) -> None:
    declared = responses.get(code)
    if declared is None:
        responses[code] = {
            "content": {"application/json": {"schema": _ref(name)}},
            "description": description,
        }
        return
    for media in declared.setdefault("content", {}).values():
        schema = media.get("schema")
        if schema is None:
            media["schema"] = _ref(name)
        elif schema != _ref(name) and _ref(name) not in schema.get("anyOf", []):
            media["schema"] = {"anyOf": [schema, _ref(name)]}
    if not declared["content"]:
        declared["content"] = {"application/json": {"schema": _ref(name)}}
