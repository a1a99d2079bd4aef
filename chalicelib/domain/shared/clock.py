"""Time and identity sources, injectable so services and tests control them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ulid import ULID

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A ULID: unique and sortable by creation time."""
    return str(ULID())


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with offset, the one format we store and answer."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
