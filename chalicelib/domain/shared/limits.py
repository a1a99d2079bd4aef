"""Fixed-window rate limits: the one mechanism behind every limit we keep
(the API per token and per client address, the public web form, logins).

A counter is one item per (scope, subject, window), raised by a conditional
ADD: the hit counts only while the window holds fewer than the limit, so a
refused request changes nothing (a flood cannot push its own window's end
further away) and parallel requests can never count past the limit, however
they interleave. ``Retry-After`` and the ``RateLimit`` field's ``t`` are the
seconds to the window's end: whoever waits that long finds a fresh window.

Client addresses are never stored: counters are keyed by an HMAC of the
address (an IPv6 client by its /64, what one subscriber gets), so a table
dump does not list visitors' addresses.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

# Counters outlive their window by this much before TTL may remove them.
COUNTER_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class Limit:
    scope: str  # part of the counter's key: "token", "ip", "login", "form-ip", "form"
    hits: int
    window_seconds: int
    # Also listed in the schedule index for housekeeping (TTL lags for days and
    # never runs on the local emulator). It costs a second index write per hit:
    # only for low-volume counters, never for the per-request API counters.
    sweep: bool = False

    def __post_init__(self) -> None:
        if self.hits < 1 or self.window_seconds < 1:
            raise ValueError("a limit needs at least one hit and a window of at least one second")

    def window(self, now_seconds: float) -> int:
        return int(now_seconds) // self.window_seconds

    def window_end(self, now_seconds: float) -> int:
        return (self.window(now_seconds) + 1) * self.window_seconds

    def retry_after(self, now_seconds: float) -> int:
        """Whole seconds until the current window ends (at least 1)."""
        return max(1, int(self.window_end(now_seconds) - now_seconds + 0.999))

    @classmethod
    def parse(cls, scope: str, text: str, *, sweep: bool = False) -> Limit:
        """``"600/60"``: 600 hits per 60 seconds (the form of the settings)."""
        hits, _, seconds = text.strip().partition("/")
        try:
            return cls(scope, int(hits), int(seconds or "60"), sweep)
        except ValueError:
            raise ValueError(f"a rate limit is <hits>/<seconds>, e.g. 600/60, not {text!r}") from None


@dataclass(frozen=True)
class Counter:
    """One window's counter. ``tenant_id`` None: counted before a tenant is
    known (client addresses, login e-mail digests)."""

    scope: str
    subject: str
    window: int
    tenant_id: str | None = None
    sweep: bool = False


class RateCounters(Protocol):
    def take(self, counter: Counter, limit: int, expires_at: datetime) -> int | None:
        """Count one hit unless the window holds ``limit`` already: the count
        with this hit, or None (and nothing is counted)."""
        ...

    def give_back(self, counter: Counter) -> None:
        """Uncount one hit taken from this counter (a login that succeeded)."""
        ...


@dataclass(frozen=True)
class Quota:
    """What one take found: the limit, the hits left in the window after this
    one, and the whole seconds until the window resets."""

    limit: Limit
    counter: Counter
    remaining: int
    reset: int
    allowed: bool


class RateLimiter:
    def __init__(self, counters: RateCounters, grace: timedelta = COUNTER_GRACE):
        self._counters = counters
        self._grace = grace

    def take(self, limit: Limit, subject: str, now: datetime, *, tenant_id: str | None = None) -> Quota:
        seconds = now.timestamp()
        counter = Counter(limit.scope, subject, limit.window(seconds), tenant_id, limit.sweep)
        expires = datetime.fromtimestamp(limit.window_end(seconds), tz=UTC) + self._grace
        count = self._counters.take(counter, limit.hits, expires)
        remaining = 0 if count is None else max(0, limit.hits - count)
        return Quota(limit, counter, remaining, limit.retry_after(seconds), allowed=count is not None)

    def give_back(self, quota: Quota) -> None:
        if quota.allowed:
            self._counters.give_back(quota.counter)


def client_digest(key: bytes, address: str) -> str:
    """What a rate limit counts a client by: its IPv4 address, or its IPv6 /64."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        canonical = "unknown"
    else:
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            canonical = str(parsed.ipv4_mapped)
        elif isinstance(parsed, ipaddress.IPv6Address):
            canonical = str(ipaddress.ip_network(f"{parsed}/64", strict=False))
        else:
            canonical = str(parsed)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()[:32]


class ApiLimits:
    """The API's own limits: a caller with a valid credential by its token
    (every token its own budget: a script with an API token cannot starve its
    owner's browser session), everyone else by client address. One counter
    per request, so one conditional write is all a request pays."""

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        per_token: Limit,
        per_client: Limit,
        client_key: bytes,
        clock: Callable[[], datetime],
    ):
        self._limiter = limiter
        self.per_token = per_token
        self.per_client = per_client
        self._client_key = client_key
        self._clock = clock

    def for_token(self, tenant_id: str, token_id: str) -> Quota:
        return self._limiter.take(self.per_token, token_id, self._clock(), tenant_id=tenant_id)

    def for_client(self, address: str) -> Quota:
        return self._limiter.take(self.per_client, client_digest(self._client_key, address), self._clock())
