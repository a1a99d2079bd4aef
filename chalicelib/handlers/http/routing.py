"""The one way to declare an HTTP endpoint.

``@route(bp, "/v1/things", "POST", body=ThingIn, response=ThingOut, status=201)``
(the models usually imported with ``chalicelib.lazy.lazy_imports()``, resolved on
first use: cold start) registers the Chalice route and wraps the view so that it
- authenticates the bearer token (unless ``public``) and, for CRM routes
  (``module="crm"``, the default), checks module access (TEN-3),
- refuses oversized bodies (413), malformed JSON (400) and invalid fields (422),
- validates query parameters against a pydantic model, and reads
  ``limit``/``cursor`` for paged lists,
- maps every domain error to problem+json and never lets a traceback out,
- serialises pydantic answers and pages into the JSON envelope,
and records an ``Operation`` that handlers/http/openapi.py turns into the spec.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.config import get_settings
from chalicelib.domain.shared import errors
from chalicelib.domain.shared.pagination import Page, PageRequest, QueryScope, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.handlers.http import limits as rate_limits
from chalicelib.handlers.http import problems
from chalicelib.lazy import Lazy
from chalicelib.observability import identify, logger

JSON = "application/json"
PAGING_PARAMS = ("limit", "cursor")
# Operation fields that name a pydantic model: a lazy name there is resolved on first read.
_MODELS = frozenset({"body", "query", "response"})


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
    # "crm": gated by module access (TEN-3); "portal": identity and the
    # settings the owner needs to switch the module back on.
    module: str = "crm"
    # Non-JSON request bodies (e.g. image bytes) list their media types here.
    content_types: tuple[str, ...] = (JSON,)
    # Non-JSON answers (HTML, redirects) describe themselves here.
    produces: str = JSON
    description: str = ""
    errors: tuple[int, ...] = ()
    # The write names the version it changes with If-Match (412 stale, 428 missing).
    if_match: bool = False
    # With an Idempotency-Key header the first successful answer is kept for
    # 24 h and replayed to retries with the same key and body (422 other body,
    # 409 while the first still runs). Every POST is, unless it says why not
    # in ``not_idempotent``; other methods are idempotent by their nature.
    not_idempotent: str = ""
    # Issue 19: the largest body this route takes (None: Settings.max_body_bytes),
    # and why a route is not rate limited (empty: counted, by token or address).
    max_body: int | None = None
    not_rate_limited: str = ""
    # Answers besides ``status`` and the problem+json ``errors`` (issue 19, fuzzing: the document
    # declares every answer a route gives): (status, media type, pydantic model or None for text).
    # E.g. a 202 while a PDF renders, a 404 page for a browser. They replace the problem+json of the
    # same error status.
    answers: tuple[tuple[int, str, type[BaseModel] | None], ...] = ()

    @property
    def idempotent(self) -> bool:
        return self.method == "POST" and not self.not_idempotent

    method: str = "GET"

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name in _MODELS and type(value) is Lazy:  # imported on the first request or OpenAPI build
            value = value.resolve()
            object.__setattr__(self, name, value)
        return value


@dataclass
class Call:
    """What a view receives besides its path parameters."""

    request: Any
    body: Any = None
    query: Any = None
    raw_body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    principal: Principal | None = None
    tenant: Any = None
    # The path as requested (the route template with its parameters filled in).
    request_path: str = ""
    _scope: QueryScope | None = None

    @property
    def caller(self) -> Principal:
        if self.principal is None:
            raise errors.Unauthorized("This endpoint needs a bearer token.")
        return self.principal

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def page_request(self, query_name: str, **filters: Any) -> PageRequest:
        """Limit and verified cursor for a list; the cursor is bound to this
        tenant, this list and these filters."""
        from chalicelib.bootstrap import container

        self._scope = QueryScope(self.caller.tenant_id, query_name, filters)
        params = self.request.query_params or {}
        return container().cursor_codec.page_request(
            self._scope, limit=params.get("limit"), cursor=params.get("cursor")
        )

    def page(self, result: Slice[Any], view: Callable[[Any], Any] | None = None) -> Page[Any]:
        """The answer page: items shaped by ``view``, the next cursor signed."""
        from chalicelib.bootstrap import container

        if self._scope is None:
            raise RuntimeError("page() before page_request()")
        if view is not None:
            result = Slice([view(item) for item in result.items], result.after)
        return container().cursor_codec.page(result, self._scope)

    def expected_version(self) -> int:
        """The version named by If-Match ("3" or 3); writes must name one."""
        raw = self.header("if-match")
        if raw is None:
            raise errors.PreconditionRequired(
                "Send If-Match with the version you are changing: the ETag that GET "
                f'{self.request_path} answers, e.g. If-Match: "<version>".'
            )
        text = raw.strip()
        if text.startswith("W/"):
            # RFC 9110 13.1.1: If-Match compares strongly; a weak tag never matches.
            raise errors.PreconditionFailed('If-Match needs the strong ETag ("<version>"), not a weak W/ tag.')
        text = text.strip('"')
        if not text.isdigit():
            raise errors.BadRequest('If-Match must be a record version, e.g. "3".')
        return int(text)

    def optional_version(self) -> int | None:
        return self.expected_version() if self.header("if-match") is not None else None


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


def _parse_query(request: Any, model: type[BaseModel], paged: bool) -> BaseModel:
    params = request.query_params or {}
    data = {name: params.get(name) for name in params if not (paged and name in PAGING_PARAMS)}
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise problems.validation_failed(err, location="query") from None


def _render(result: Any, op: Operation) -> Response:
    if isinstance(result, Response):
        return result
    if op.status == 204:
        return Response(body="", status_code=204)
    headers: dict[str, str | list[str]] = {"Content-Type": JSON}
    if isinstance(result, Page):
        body: Any = {"items": [_plain(i) for i in result.items], "next_cursor": result.next_cursor}
    else:
        body = _plain(result)
        if isinstance(body, dict) and isinstance(body.get("version"), int):
            headers["ETag"] = f'"{body["version"]}"'
    return Response(body=json.dumps(body), status_code=op.status, headers=headers)


def _authenticate(call: Call, op: Operation) -> None:
    from chalicelib.bootstrap import container
    from chalicelib.domain.identity.module_access import ensure_module_access

    call.principal, call.tenant = container().auth.authenticate(call.header("authorization"))
    identify(tenant_id=call.principal.tenant_id, user_id=call.principal.user_id)
    if op.module == "crm":
        ensure_module_access(call.principal, call.tenant)


def refuse_oversized(raw: bytes | str | None, limit: int | None = None) -> None:
    """413 for a body over the route's limit (the default: Settings.max_body_bytes)."""
    allowed = limit or get_settings().max_body_bytes
    if len(raw or b"") > allowed:
        raise errors.PayloadTooLarge(f"The request body is larger than {allowed} bytes.")


IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255


def _idempotent(call: Call, route_name: str, run: Callable[[], Response]) -> Response:
    """Run the write once per (user, route, key); replay its answer to retries."""
    from chalicelib.bootstrap import container

    key = (call.header(IDEMPOTENCY_HEADER) or "").strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise errors.BadRequest(f"{IDEMPOTENCY_HEADER} must be 1..{MAX_IDEMPOTENCY_KEY} printable characters.")
    store = container().idempotency
    request = store.request(call.caller.tenant_id, call.caller.user_id, route_name, key, call.raw_body)
    stored = store.begin(request)
    if stored is not None:
        headers: dict[str, str | list[str]] = {"Content-Type": JSON, "Idempotent-Replayed": "true"}
        version = _version_of(stored.body)
        if version is not None:
            headers["ETag"] = f'"{version}"'
        return Response(body=stored.body, status_code=stored.status, headers=headers)
    try:
        response = run()
    except BaseException:
        store.abandon(request)
        raise
    if 200 <= response.status_code < 300:
        body = response.body if isinstance(response.body, str) else json.dumps(response.body)
        store.complete(request, (response.status_code, body))
    else:
        store.abandon(request)
    return response


def _version_of(body: str) -> int | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, int) else None


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def route(bp: Blueprint, path: str, method: str, *, summary: str, tag: str, **options: Any) -> Callable:
    op = Operation(summary=summary, tag=tag, method=method, **options)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        wants_call = "call" in inspect.signature(view).parameters

        @functools.wraps(view)
        def endpoint(**path_params: str) -> Response:
            request = bp.current_request
            try:
                raw = request.raw_body or b""
                if isinstance(raw, str):  # Chalice hands bytes; its type hints allow text
                    raw = raw.encode()
                refuse_oversized(raw, op.max_body)
                call = Call(
                    request=request,
                    raw_body=raw,
                    headers=dict(request.headers or {}),
                    request_path=path.format(**path_params),
                )
                try:
                    if not op.public:
                        _authenticate(call, op)
                finally:  # refused credentials count too (by address): 429 past the limit
                    rate_limits.admit(request, call.principal, exempt=bool(op.not_rate_limited))
                if op.body is not None:
                    call.body = _parse_body(request, op.body)
                if op.query is not None:
                    call.query = _parse_query(request, op.query, op.paged)
                if op.idempotent and call.header(IDEMPOTENCY_HEADER) is not None:
                    # Keyed on the real path: the same key on two contacts' histories is two requests.
                    return _idempotent(
                        call,
                        f"{method} {call.request_path}",
                        lambda: _render(view(**path_params, call=call) if wants_call else view(**path_params), op),
                    )
                result = view(**path_params, call=call) if wants_call else view(**path_params)
                return _render(result, op)
            except errors.CrmError as error:
                return problems.from_error(error)
            except Exception:  # a bug: log it with its traceback, answer without
                logger.exception("unhandled error")
                return problems.problem(500, "An internal error occurred; it has been logged.")

        endpoint.operation = op  # type: ignore[attr-defined]
        has_body = options.get("body") is not None  # not op.body: that would import a lazy model now
        content_types = list(op.content_types) if has_body or op.content_types != (JSON,) else None
        kwargs = {"content_types": content_types} if content_types else {}
        bp.route(path, methods=[method], **kwargs)(endpoint)
        return endpoint

    return decorate
