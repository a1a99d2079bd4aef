"""OpenAPI 3.1 from the route registry and the pydantic models that validate
requests: the document cannot drift from what the API accepts."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, get_origin

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.problems import PROBLEM_TYPE, TITLES
from chalicelib.handlers.http.routing import JSON, Operation

API_TITLE = "Serverless CRM API"
API_VERSION = "0.1.0"
_PATH_PARAM = re.compile(r"{([^}]+)}")
_REF = "#/components/schemas/{model}"

_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_ALWAYS = (400, 413, 415, 429, 500)


def _routes() -> list[tuple[str, str, Operation, bool]]:
    """(path, method, operation, whether the view answers a list envelope)."""
    # Any blueprint gives the app once registered; service.bp always is.
    from chalicelib.handlers.http.service import bp

    found = []
    for path, methods in sorted(bp.current_app.routes.items()):
        for method, entry in sorted(methods.items()):
            op = getattr(entry.view_function, "operation", None)
            if op is not None:
                listed = op.paged or _returns_page(getattr(entry.view_function, "__wrapped__", entry.view_function))
                found.append((path, method, op, listed))
    return found


def _returns_page(view: Callable[..., Any]) -> bool:
    # A short list answered whole (no limit/cursor) is still {items, next_cursor}: the view says
    # so by its return type (a string under `from __future__ import annotations`).
    returns = getattr(view, "__annotations__", {}).get("return")
    if isinstance(returns, str):
        return returns == "Page" or returns.startswith("Page[")
    return returns is Page or get_origin(returns) is Page


def _models(routes: list[tuple[str, str, Operation, bool]]) -> list[type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {}
    for _, _, op, _ in routes:
        # Query models too: their enums and nested types land in components.
        answered = [model for _, _, model in op.answers]
        for model in (op.body, op.response, op.query, *answered):
            if model is not None:
                models[f"{model.__module__}.{model.__qualname__}"] = model
    return list(models.values())


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(
    path: str, method: str, op: Operation, refs: dict[Any, dict[str, Any]], listed: bool = False
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": f"{method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_') or 'root'}",
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAM.findall(path)
        ],
    }
    if op.description:
        spec["description"] = op.description
    if op.query is not None:
        spec["parameters"] += _query_parameters(op.query)
    if op.paged:
        spec["parameters"] += [
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                "description": "Items per page, 1..200 (others answer 422).",
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "next_cursor of the previous page; valid only for the same list and filters.",
            },
        ]
    if op.if_match:
        spec["parameters"].append(
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": 'The record version, e.g. "3".',
            }
        )
    if getattr(op, "idempotent", False):
        spec["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Makes the write safe to retry: the first successful answer is kept for 24 h and "
                "returned again (header Idempotent-Replayed: true) for the same key and body, "
                "creating nothing; the same key with another body answers 422, and 409 while "
                "the first request is still running.",
            }
        )
    if op.body is not None:
        spec["requestBody"] = {"required": True, "content": {JSON: {"schema": refs[(op.body, "validation")]}}}
    elif op.content_types != (JSON,):
        spec["requestBody"] = {
            "required": True,
            "content": {ct: {"schema": {"type": "string", "format": "binary"}} for ct in op.content_types},
        }
    success: dict[str, Any] = {"description": op.summary}
    if 300 <= op.status < 400:
        # A redirect's answer is its Location; the body is empty.
        success["headers"] = {"Location": {"required": True, "schema": {"type": "string"}}}
    elif op.status != 204:
        if op.response is not None:
            schema = refs[(op.response, "serialization")]
            if listed:
                schema = {
                    "type": "object",
                    "required": ["items", "next_cursor"],
                    "properties": {
                        "items": {"type": "array", "items": schema},
                        "next_cursor": {"type": ["string", "null"]},
                    },
                }
            success["content"] = {JSON: {"schema": schema}}
        else:
            success["content"] = {op.produces: {"schema": {} if op.produces == JSON else {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): success}
    statuses = set(_ALWAYS) | set(op.errors)
    if op.body is not None or op.query is not None or op.paged:
        statuses.add(422)
    if _PATH_PARAM.search(path):
        # A path parameter names something that may not exist, or that the caller may not see (issue 19,
        # fuzzing: GET /v1/mailings/{mailing_id} answered an undeclared 404).
        statuses.add(404)
    if op.if_match:
        statuses |= {412, 428}
    if getattr(op, "idempotent", False):
        statuses |= {409, 422}
    if not op.public:
        statuses |= {401, 403}
    for status in sorted(statuses):
        responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
    for status, media_type, model in op.answers:
        answer = responses.get(str(status))
        if answer is None or "$ref" in answer:
            answer = responses[str(status)] = {"description": TITLES.get(status, op.summary), "content": {}}
        schema = refs[(model, "serialization")] if model is not None else {"type": "string"}
        answer.setdefault("content", {})[media_type] = {"schema": schema}
    spec["responses"] = responses
    if not op.public:
        spec["security"] = [{"bearer": []}]
    else:
        spec["security"] = []
    return spec


@functools.cache
def document() -> dict[str, Any]:
    routes = _routes()
    models = _models(routes)
    modes: tuple[JsonSchemaMode, ...] = ("validation", "serialization")
    inputs = [(m, mode) for mode in modes for m in models]
    refs, defs = models_json_schema(inputs, ref_template=_REF)
    schemas = dict(defs.get("$defs", {}))
    schemas["Problem"] = _PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    used_statuses: set[int] = set()
    for path, method, op, listed in routes:
        operation = _operation(path, method, op, refs, listed)
        used_statuses |= {int(s) for s, answer in operation["responses"].items() if "$ref" in answer}
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": API_TITLE,
            "version": API_VERSION,
            "description": "Errors are application/problem+json (RFC 9457). Lists are paged with "
            "`limit` (1..200, default 50) and an opaque `cursor`.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                f"Problem{s}": {
                    "description": TITLES.get(s, "Error"),
                    "content": {PROBLEM_TYPE: {"schema": {"$ref": _REF.format(model="Problem")}}},
                }
                for s in sorted(used_statuses)
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A login token or a personal API token."}
            },
        },
    }
