"""The one way to declare an HTTP endpoint.

``@route(bp, "/v1/things", "POST", body=ThingIn, response=ThingOut, status=201)``
registers the Chalice route and wraps the view so that it
- refuses oversized bodies (413), malformed JSON (400) and invalid fields (422),
- validates query parameters against a pydantic model,
- maps every domain error to problem+json and never lets a traceback out,
- serialises pydantic answers and pages into the JSON envelope,
and records an ``Operation`` that handlers/openapi.py turns into the spec.
"""
from __future__ import annotations

import functools
import inspect
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.config import get_settings
from chalicelib.domain import errors
from chalicelib.domain.pagination import Page
from chalicelib.handlers import problems
from chalicelib.observability import logger

JSON = "application/json"


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    paged: bool = False
    public: bool = False
    # Non-JSON request bodies (e.g. image bytes) list their media types here.
    content_types: tuple[str, ...] = (JSON,)
    # Non-JSON answers (HTML, redirects) describe themselves here.
    produces: str = JSON
    description: str = ""
    errors: tuple[int, ...] = ()


@dataclass
class Call:
    """What a view receives besides its path parameters."""
    request: Any
    body: Any = None
    query: Any = None
    raw_body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _parse_body(request: Any, model: type[BaseModel]) -> BaseModel:
    raw = request.raw_body or b""
    if not raw.strip():
        raw = b"{}"
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.BadRequest("The request body is not valid JSON.") from None
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise problems.validation_failed(err) from None


def _parse_query(request: Any, model: type[BaseModel]) -> BaseModel:
    params = request.query_params or {}
    data = {name: params.get(name) for name in params}
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise problems.validation_failed(err, location="query") from None


def _render(result: Any, op: Operation) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, Page):
        body: Any = {"items": [_plain(i) for i in result.items], "next_cursor": result.next_cursor}
    else:
        body = _plain(result)
    if op.status == 204:
        return Response(body="", status_code=204)
    return Response(body=json.dumps(body), status_code=op.status, headers={"Content-Type": JSON})


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def route(bp: Blueprint, path: str, method: str, *, summary: str, tag: str, **options: Any) -> Callable:
    op = Operation(summary=summary, tag=tag, **options)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        wants_call = "call" in inspect.signature(view).parameters

        @functools.wraps(view)
        def endpoint(**path_params: str) -> Response:
            request = bp.current_request
            try:
                raw = request.raw_body or b""
                if len(raw) > get_settings().max_body_bytes:
                    raise errors.PayloadTooLarge(
                        f"The request body is larger than {get_settings().max_body_bytes} bytes.")
                call = Call(request=request, raw_body=raw, headers=dict(request.headers or {}))
                if op.body is not None:
                    call.body = _parse_body(request, op.body)
                if op.query is not None:
                    call.query = _parse_query(request, op.query)
                result = view(**path_params, call=call) if wants_call else view(**path_params)
                return _render(result, op)
            except errors.CrmError as error:
                return problems.from_error(error)
            except Exception:  # a bug: log it with its traceback, answer without
                logger.exception("unhandled error")
                return problems.problem(500, "An internal error occurred; it has been logged.")

        endpoint.operation = op  # type: ignore[attr-defined]
        content_types = list(op.content_types) if op.body is not None or op.content_types != (JSON,) else None
        kwargs = {"content_types": content_types} if content_types else {}
        bp.route(path, methods=[method], **kwargs)(endpoint)
        return endpoint

    return decorate
