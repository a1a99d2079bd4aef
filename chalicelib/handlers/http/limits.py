"""The API's rate limits over HTTP (issue 19): who a request counts against,
the 429, and the ``RateLimit-Policy`` / ``RateLimit`` fields.

The fields follow draft-ietf-httpapi-ratelimit-headers-11 (May 2026): both
are Structured Field Lists whose items are the policy's name as a String,
``RateLimit-Policy: "token";q=600;w=60`` (quota, window in seconds) and
``RateLimit: "token";r=599;t=42`` (requests left, seconds until the window
resets). A caller with a valid bearer token counts against the policy
"token" (its own budget per token), everyone else, refused credentials
included, against "client" (per address, IPv6 by /64). One counter per
request: one conditional write.

Routes decide nothing here: routing calls ``admit`` once the credential is
checked (or refused); answers no route decorator made (the fallback's 404,
Chalice's own 405/415, a 413 before the credential) are counted by address
in security.py's middleware, which also writes the fields on every answer.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from chalicelib.domain.shared.errors import TooManyRequests
from chalicelib.domain.shared.limits import Quota
from chalicelib.observability import logger

POLICY_NAMES = {"token": "token", "ip": "client"}

# What this request counted against (None: nothing yet). A ContextVar, not a
# global: tests drive the app from several threads at once.
_quota: ContextVar[Quota | None] = ContextVar("crm_rate_quota", default=None)
# Set for routes exempt from counting (their answers carry no RateLimit fields).
_exempt: ContextVar[bool] = ContextVar("crm_rate_exempt", default=False)


def begin() -> Any:
    """A new request: nothing counted. Returns what ``end`` restores."""
    return _quota.set(None), _exempt.set(False)


def end(tokens: Any) -> None:
    quota_token, exempt_token = tokens
    _quota.reset(quota_token)
    _exempt.reset(exempt_token)


def client_address(request: Any) -> str:
    # API Gateway's own view of the peer; X-Forwarded-For is whatever the client wrote.
    identity = (getattr(request, "context", None) or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


def admit(request: Any, principal: Any, *, exempt: bool = False) -> None:
    """Count this request against its token, or its client address; 429 past the limit."""
    if _quota.get() is not None:
        return  # counted once per request
    if exempt:
        _exempt.set(True)
        return
    quota = _take(request, principal)
    if quota is not None and not quota.allowed:
        raise TooManyRequests(
            f"Too many requests; this {POLICY_NAMES.get(quota.limit.scope, quota.limit.scope)} may send "
            f"{quota.limit.hits} every {quota.limit.window_seconds} seconds. Retry after {quota.reset} seconds.",
            retry_after=quota.reset,
        )


def admit_after(request: Any) -> Quota | None:
    """For answers no route decorator made: count them by address (None: nothing to count)."""
    if _quota.get() is not None or _exempt.get():
        return None
    return _take(request, None)


def _take(request: Any, principal: Any) -> Quota | None:
    from chalicelib.bootstrap import container

    try:
        limits = container().api_limits
        if principal is not None and getattr(principal, "token_id", None):
            quota = limits.for_token(principal.tenant_id, principal.token_id)
        else:
            quota = limits.for_client(client_address(request))
    except Exception:
        # The counter is a guard, not the service: when its write fails the request
        # goes on uncounted (and the failure is logged) rather than failing with it.
        logger.exception("rate counter unavailable; request not counted")
        return None
    _quota.set(quota)
    return quota


def headers() -> dict[str, str]:
    """The RateLimit fields of this request's answer ({} when nothing was counted)."""
    quota = _quota.get()
    if quota is None:
        return {}
    name = POLICY_NAMES.get(quota.limit.scope, quota.limit.scope)
    return {
        "RateLimit-Policy": f'"{name}";q={quota.limit.hits};w={quota.limit.window_seconds}',
        "RateLimit": f'"{name}";r={quota.remaining};t={quota.reset}',
    }
