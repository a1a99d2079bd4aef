"""The tenant's sending rate on the one rate counter (domain/shared/limits.py)
that web forms, logins and the API use: a window per tenant and second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.domain.shared.limits import Counter

if TYPE_CHECKING:
    from chalicelib.domain.shared.limits import RateCounters

# A second's counter is kept this long (TTL, and housekeeping where TTL lags).
WINDOW_KEEP = timedelta(hours=1)


class CounterSendWindows:
    """``SendWindows`` (domain/mailing/ports.py) over ``RateCounters``."""

    def __init__(self, counters: RateCounters):
        self._counters = counters

    def take(self, tenant_id: str, second: int, limit: int) -> bool:
        counter = Counter(scope="mail-send", subject="tenant", window=second, tenant_id=tenant_id, sweep=True)
        expires_at = datetime.fromtimestamp(second, UTC) + WINDOW_KEEP
        return self._counters.take(counter, limit, expires_at) is not None
