"""REP-2 periods in the tenant's time zone: presets at week starts, month
ends, DST changes and year ends; custom ranges; the UTC instants bounding a
local day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from chalicelib.domain.reports.models import Period
from chalicelib.domain.reports.periods import Window, resolve, week_start_day


def preset(name: str, today: date, first_weekday: int = 0) -> tuple[date | None, date | None]:
    return resolve(Period(preset=name), today, first_weekday=first_weekday)


def test_week_starts_come_from_cldr_for_the_tenant_region():
    assert week_start_day("DE") == 0  # Monday
    assert week_start_day("US") == 6  # Sunday
    assert week_start_day(None) == 0


@pytest.mark.parametrize(
    ("today", "first_weekday", "this_week"),
    [
        (date(2026, 11, 23), 0, (date(2026, 11, 23), date(2026, 11, 30))),  # a Monday is its own week's start
        (date(2026, 11, 29), 0, (date(2026, 11, 23), date(2026, 11, 30))),  # Sunday: the week's last day
        (date(2026, 11, 29), 6, (date(2026, 11, 29), date(2026, 12, 6))),  # Sunday starts a US week
        (date(2026, 11, 28), 6, (date(2026, 11, 22), date(2026, 11, 29))),
    ],
)
def test_this_week_starts_on_the_regions_first_day(today, first_weekday, this_week):
    assert preset("this_week", today, first_weekday) == this_week
    start, until = this_week
    assert preset("last_week", today, first_weekday) == (start - timedelta(weeks=1), start)
    assert preset("next_week", today, first_weekday) == (until, until + timedelta(weeks=1))


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        # Month ends: the last day of a 31-day month, February in a leap year and not.
        (
            date(2026, 3, 31),
            {"last_month": (date(2026, 2, 1), date(2026, 3, 1)), "next_month": (date(2026, 4, 1), date(2026, 5, 1))},
        ),
        (date(2028, 3, 31), {"last_month": (date(2028, 2, 1), date(2028, 3, 1))}),
        (
            date(2026, 1, 31),
            {"this_month": (date(2026, 1, 1), date(2026, 2, 1)), "next_month": (date(2026, 2, 1), date(2026, 3, 1))},
        ),
        # Year ends.
        (
            date(2026, 12, 31),
            {
                "today": (date(2026, 12, 31), date(2027, 1, 1)),
                "tomorrow": (date(2027, 1, 1), date(2027, 1, 2)),
                "next_month": (date(2027, 1, 1), date(2027, 2, 1)),
                "this_quarter": (date(2026, 10, 1), date(2027, 1, 1)),
                "next_quarter": (date(2027, 1, 1), date(2027, 4, 1)),
                "this_year": (date(2026, 1, 1), date(2027, 1, 1)),
                "next_year": (date(2027, 1, 1), date(2028, 1, 1)),
                "next_week": (date(2027, 1, 4), date(2027, 1, 11)),
            },
        ),
        (
            date(2027, 1, 1),
            {
                "yesterday": (date(2026, 12, 31), date(2027, 1, 1)),
                "last_month": (date(2026, 12, 1), date(2027, 1, 1)),
                "last_quarter": (date(2026, 10, 1), date(2027, 1, 1)),
                "last_year": (date(2026, 1, 1), date(2027, 1, 1)),
                "this_week": (date(2026, 12, 28), date(2027, 1, 4)),  # a week across the year end
            },
        ),
        (date(2026, 5, 15), {"this_quarter": (date(2026, 4, 1), date(2026, 7, 1)), "all": (None, None)}),
    ],
)
def test_presets_at_month_and_year_ends(today, expected):
    for name, bounds in expected.items():
        assert preset(name, today) == bounds, name


def test_a_custom_range_includes_its_last_day():
    period = Period.model_validate({"from": "2026-02-01", "to": "2026-02-28"})
    assert resolve(period, date(2026, 11, 1)) == (date(2026, 2, 1), date(2026, 3, 1))


@pytest.mark.parametrize(
    "body",
    [
        {"preset": "this_month", "from": "2026-01-01", "to": "2026-01-31"},
        {"from": "2026-01-01"},
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"preset": "fortnight"},
        {"from": "2000-01-01", "to": "2026-01-01"},
    ],
)
def test_a_period_is_a_preset_or_a_sensible_range(body):
    with pytest.raises(ValidationError):
        Period.model_validate(body)


def test_a_week_across_the_spring_dst_change_is_167_hours_long():
    start, until = preset("this_week", date(2026, 3, 26))  # Berlin goes to summer time on Sunday 29 March
    window = Window(start, until, "Europe/Berlin")
    assert window.start_at == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)  # Monday 00:00 CET
    assert window.until_at == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # Monday 00:00 CEST
    assert window.until_at - window.start_at == timedelta(hours=167)


def test_the_autumn_dst_day_has_25_hours_and_its_edges_count_right():
    window = Window(date(2026, 10, 25), date(2026, 10, 26), "Europe/Berlin")
    assert window.until_at - window.start_at == timedelta(hours=25)
    assert window.has_moment(datetime(2026, 10, 24, 22, 0, tzinfo=UTC))  # 00:00 CEST on the 25th
    assert not window.has_moment(datetime(2026, 10, 24, 21, 59, tzinfo=UTC))  # 23:59 on the 24th
    assert window.has_moment(datetime(2026, 10, 25, 22, 59, tzinfo=UTC))  # 23:59 CET on the 25th
    assert not window.has_moment(datetime(2026, 10, 25, 23, 0, tzinfo=UTC))  # midnight: the 26th


def test_a_month_is_counted_per_day_and_a_quarter_per_month():
    november = Window(date(2026, 11, 1), date(2026, 12, 1), "UTC")
    assert november.daily and len(november.buckets()) == 30
    quarter = Window(date(2026, 10, 1), date(2027, 1, 1), "UTC")
    assert not quarter.daily
    assert quarter.buckets() == [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]
    assert quarter.bucket(date(2026, 11, 30)) == date(2026, 11, 1)
    everything = Window(None, None, "UTC")
    assert everything.buckets([date(2026, 3, 5), date(2025, 12, 31)]) == [date(2025, 12, 1), date(2026, 3, 1)]
