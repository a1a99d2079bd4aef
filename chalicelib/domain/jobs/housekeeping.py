"""Housekeeping: expired items (sessions, invitations, idempotency records)
are deleted even where DynamoDB's TTL lags (up to days) or does not run (the
local emulator).

The schedule pattern: a scheduled run takes ``now`` from the clock, finds the
due work cheaply and enqueues one message per unit of work; an idempotent SQS
consumer does the work. Deleting what is already gone changes nothing, so a
message delivered twice is harmless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, ConfigDict

from chalicelib.domain.shared.clock import Clock, utc_now
from chalicelib.domain.shared.model import Model

if TYPE_CHECKING:
    from chalicelib.domain.shared.ports import ExpiringItems, JobQueue

# On the first run (no checkpoint yet) look this far back.
FIRST_SWEEP_LOOKBACK = timedelta(hours=48)
# A paused deployment catches up at most this far; older hours are left to TTL.
MAX_SWEEP_SPAN = timedelta(days=14)


class PurgeExpired(Model):
    """Job message: delete what expired within one hour bucket."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["housekeeping.purge_expired"] = "housekeeping.purge_expired"
    hour: AwareDatetime
    until: AwareDatetime


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class Housekeeping:
    def __init__(self, items: ExpiringItems, queue: JobQueue, clock: Clock = utc_now):
        self._items = items
        self._queue = queue
        self._clock = clock

    def sweep(self) -> list[PurgeExpired]:
        """Enqueue a purge for every hour since the last sweep, through now."""
        now = self._clock()
        since = self._items.last_sweep() or now - FIRST_SWEEP_LOOKBACK
        since = max(since, now - MAX_SWEEP_SPAN)
        jobs, hour = [], _hour(since)
        while hour <= now:
            jobs.append(PurgeExpired(hour=hour, until=now))
            hour += timedelta(hours=1)
        self._queue.send_many(job.model_dump(mode="json") for job in jobs)
        # The current hour is swept again next time: items may still expire in it.
        self._items.record_sweep(_hour(now))
        return jobs

    def purge(self, job: PurgeExpired) -> int:
        return self._items.delete_expired(job.hour, min(job.until, self._clock()))
