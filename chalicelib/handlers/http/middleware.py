"""HTTP middleware: log context per request, and problem+json for the errors
Chalice itself produces before a view runs (405, 415)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.handlers.http.problems import PROBLEM_TYPE, problem
from chalicelib.observability import start_request


def request_context(event: Any, get_response: Callable[[Any], Response]) -> Response:
    context = getattr(event, "context", None) or {}
    start_request(request_id=context.get("requestId"), method=event.method, route=context.get("resourcePath", ""))
    response = get_response(event)
    return _as_problem(response)


def _as_problem(response: Response) -> Response:
    if response.status_code < 400:
        return response
    headers = {k.lower(): v for k, v in (response.headers or {}).items()}
    if headers.get("content-type", "").startswith(PROBLEM_TYPE):
        return response
    if response.status_code < 500 and headers.get("content-type", "").startswith("text/html"):
        return response  # a page a view made for a browser on purpose (the web form's answers, WEB-3)
    body = response.body
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except ValueError:
            body = {}
    message = body.get("Message") if isinstance(body, dict) else None
    keep = {k: v for k, v in (response.headers or {}).items() if k.lower() in ("allow", "retry-after")}
    if response.status_code >= 500:
        message = "An internal error occurred; it has been logged."
    return problem(response.status_code, message or "The request could not be served.", headers=keep)
