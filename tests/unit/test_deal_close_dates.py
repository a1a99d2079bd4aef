"""A deal's close date is the day in the tenant's time zone."""

from __future__ import annotations

from datetime import UTC, datetime


def test_the_close_date_is_the_day_in_the_tenants_time_zone():
    from chalicelib.domain.deals.service import today_in

    noon_utc = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert today_in("Pacific/Kiritimati", noon_utc).isoformat() == "2026-11-28"
    assert today_in("America/Los_Angeles", datetime(2026, 11, 27, 3, 0, tzinfo=UTC)).isoformat() == "2026-11-26"
    assert today_in("UTC", noon_utc).isoformat() == "2026-11-27"
