"""The outermost HTTP middleware (issue 19): rate-limit fields and security
headers on every answer, the fallback's 404s and Chalice's own 405/415
included, and the address count for answers no route decorator made.

- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``
  everywhere;
- ``Strict-Transport-Security`` on deployed stages (Settings.hsts);
- answers that bring no ``Content-Security-Policy`` of their own (JSON,
  problem+json, redirects) get ``default-src 'none'; frame-ancestors 'none'``
  and ``X-Frame-Options: DENY``: nothing of ours renders in a frame. Pages
  set their own policy (the public web form may be framed by the sites it is
  embedded in; /docs runs Swagger UI from our own origin), and the middleware
  leaves it, and their framing, alone;
- ``Cache-Control: no-store`` on every answer to a request with a credential
  (a shared cache must never keep a tenant's data).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.config import get_settings
from chalicelib.handlers.http import limits
from chalicelib.handlers.http.problems import problem

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=31536000; includeSubDomains"
_ALWAYS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def answer(event: Any, get_response: Callable[[Any], Response]) -> Response:
    tokens = limits.begin()
    try:
        response = get_response(event)
        quota = limits.admit_after(event)
        if quota is not None and not quota.allowed:
            response = problem(
                429,
                f"Too many requests; retry after {quota.reset} seconds.",
                headers={"Retry-After": str(quota.reset)},
            )
        return secure(response, authenticated=_has_credential(event), extra=limits.headers())
    finally:
        limits.end(tokens)


def secure(response: Response, *, authenticated: bool, extra: dict[str, str] | None = None) -> Response:
    headers = dict(response.headers or {})
    present = {k.lower() for k in headers}
    add = {**_ALWAYS, **(extra or {})}
    if get_settings().hsts:
        add["Strict-Transport-Security"] = HSTS
    if "content-security-policy" not in present:
        add["Content-Security-Policy"] = API_POLICY
        add["X-Frame-Options"] = "DENY"
    for name, value in add.items():
        if name.lower() not in present:
            headers[name] = value
    if authenticated:
        for name in [k for k in headers if k.lower() == "cache-control"]:
            del headers[name]
        headers["Cache-Control"] = "no-store"
    response.headers = headers
    return response


def _has_credential(event: Any) -> bool:
    return any(k.lower() == "authorization" for k in (getattr(event, "headers", None) or {}))
