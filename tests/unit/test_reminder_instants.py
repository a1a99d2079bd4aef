"""A reminder's instant is exact across daylight saving changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from chalicelib.domain.tasks.reminders import reminder_instant

BERLIN = ZoneInfo("Europe/Berlin")


def test_instant_is_exact_across_daylight_saving_changes():
    # DST starts in Berlin on 2027-03-28 at 02:00 (+01:00 -> +02:00).
    due = datetime(2027, 3, 28, 10, 0, tzinfo=BERLIN)  # 08:00 UTC
    assert reminder_instant(due, 1440) == datetime(2027, 3, 27, 8, 0, tzinfo=UTC)
    assert reminder_instant(due, 1440).astimezone(BERLIN).hour == 9  # 24 h earlier is 09:00 local
    assert reminder_instant(due, 120) == datetime(2027, 3, 28, 6, 0, tzinfo=UTC)
    # And when it ends (2026-10-25 03:00 +02:00 -> 02:00 +01:00).
    due = datetime(2026, 10, 25, 9, 0, tzinfo=BERLIN)  # 08:00 UTC
    assert reminder_instant(due, 1440) == datetime(2026, 10, 24, 8, 0, tzinfo=UTC)
    assert reminder_instant(due, 0) is None and reminder_instant(None, 60) is None
