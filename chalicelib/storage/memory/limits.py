"""The in-memory twin of storage/limits.py, held to the same contract tests
(tests/contract/test_rate_counters.py). A lock stands in for DynamoDB's
per-item atomicity, so threaded tests see the same guarantee."""

from __future__ import annotations

import threading
from datetime import datetime

from chalicelib.domain.shared.limits import Counter


class MemoryRateCounters:
    def __init__(self) -> None:
        self.hits: dict[Counter, int] = {}
        self.expires: dict[Counter, datetime] = {}
        self._lock = threading.Lock()

    def take(self, counter: Counter, limit: int, expires_at: datetime) -> int | None:
        with self._lock:
            count = self.hits.get(counter, 0)
            if count >= limit:
                return None
            self.hits[counter] = count + 1
            self.expires[counter] = expires_at
            return count + 1

    def give_back(self, counter: Counter) -> None:
        with self._lock:
            if self.hits.get(counter, 0) > 0:
                self.hits[counter] -= 1
