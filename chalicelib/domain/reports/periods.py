"""Report periods (REP-2) in the tenant's time zone.

A period resolves to local dates ``[start, until)`` (``until`` is the day
after the last one); ``all`` is unbounded. Instants are compared in UTC, with
the bounds made by zoneinfo from local midnights: a day across a DST change
is 23 or 25 hours long, and Python's arithmetic on two aware datetimes of the
same zone would ignore that (DESIGN.md's measured facts).

Where a week starts is CLDR's answer for the tenant's region (Babel:
Monday in Germany, Sunday in the USA); months, quarters and years are the
calendar's. Date steps use the standard library's calendar, never seconds.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib.domain.reports.models import Period, PeriodPreset

DateRange = tuple[date | None, date | None]


@functools.cache
def week_start_day(region: str | None) -> int:
    """0 = Monday .. 6 = Sunday: CLDR's first day of the week in ``region`` (ISO 3166)."""
    from babel import Locale, UnknownLocaleError

    if not region:
        return 0
    try:
        return int(Locale.parse(f"und_{region.upper()}").first_week_day)
    except (UnknownLocaleError, ValueError):
        return 0


def zone(time_zone: str) -> ZoneInfo:
    return ZoneInfo(time_zone)


def local_today(now: datetime, time_zone: str) -> date:
    return now.astimezone(zone(time_zone)).date()


def local_date(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(zone(time_zone)).date()


def start_of_day(day: date, time_zone: str) -> datetime:
    """The UTC instant of local midnight starting ``day``."""
    return datetime.combine(day, time(0), tzinfo=zone(time_zone)).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def week_start(day: date, first_weekday: int) -> date:
    return day - timedelta(days=(day.weekday() - first_weekday) % 7)


def month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def _preset_range(preset: PeriodPreset, today: date, first_weekday: int) -> DateRange:
    if preset == PeriodPreset.ALL:
        return None, None
    name = preset.value
    if name.startswith("last_") or name == "yesterday":
        shift = -1
    elif name.startswith("next_") or name == "tomorrow":
        shift = 1
    else:
        shift = 0
    if name in ("today", "yesterday", "tomorrow"):
        day = today + timedelta(days=shift)
        return day, day + timedelta(days=1)
    unit = name.split("_", 1)[1]
    if unit == "week":
        start = week_start(today, first_weekday) + timedelta(weeks=shift)
        return start, start + timedelta(weeks=1)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    if unit == "month":
        first = date(today.year, today.month, 1)
    elif unit == "quarter":
        first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    else:
        first = date(today.year, 1, 1)
    start = add_months(first, shift * months)
    return start, add_months(start, months)


def resolve(period: Period, today: date, *, first_weekday: int = 0) -> DateRange:
    """Local dates ``[start, until)`` of a period, ``today`` being the tenant's."""
    if period.preset is not None:
        return _preset_range(period.preset, today, first_weekday)
    assert period.from_ is not None and period.to is not None  # the model's validator
    return period.from_, period.to + timedelta(days=1)


class Window:
    """A resolved period: local dates and the UTC instants bounding them."""

    def __init__(self, start: date | None, until: date | None, time_zone: str):
        self.start, self.until, self.time_zone = start, until, time_zone
        self.start_at = start_of_day(start, time_zone) if start else None
        self.until_at = start_of_day(until, time_zone) if until else None

    def has_day(self, day: date | None) -> bool:
        if day is None:
            return False
        return (self.start is None or day >= self.start) and (self.until is None or day < self.until)

    def has_moment(self, moment: datetime | None) -> bool:
        if moment is None:
            return False
        return (self.start_at is None or moment >= self.start_at) and (self.until_at is None or moment < self.until_at)

    @property
    def days(self) -> int | None:
        return (self.until - self.start).days if self.start and self.until else None

    @property
    def daily(self) -> bool:
        """Periods up to a month are counted per day, longer ones per month."""
        days = self.days
        return days is not None and days <= 31

    def bucket(self, day: date) -> date:
        return day if self.daily else date(day.year, day.month, 1)

    def buckets(self, seen: list[date] | None = None) -> list[date]:
        """Every bucket of a bounded period, in order; for ``all``, the months seen."""
        if self.start is None or self.until is None:
            return sorted({self.bucket(d) for d in (seen or [])})
        found: list[date] = []
        if self.daily:
            day = self.start
            while day < self.until:
                found.append(day)
                day += timedelta(days=1)
            return found
        month = date(self.start.year, self.start.month, 1)
        while month < self.until:
            found.append(month)
            month = add_months(month, 1)
        return found


def each_day(start: date, until: date) -> Iterator[date]:
    day = start
    while day < until:
        yield day
        day += timedelta(days=1)
