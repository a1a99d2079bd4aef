"""What a report type produces: tables of typed cells, each with the chart
that fits it. documents/report_workbook.py turns them into sheets."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"
    MONEY = "money"  # Decimal in the report's currency
    DATE = "date"
    MONTH = "month"  # a date naming its month
    PERCENT = "percent"  # Decimal fraction (0.25 = 25 %)
    DAYS = "days"  # Decimal
    DURATION = "duration"  # timedelta


class ChartKind(StrEnum):
    COLUMN = "column"
    BAR = "bar"  # horizontal bars: a funnel read top down
    LINE = "line"
    PIE = "pie"


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = Kind.TEXT


@dataclass(frozen=True)
class Chart:
    kind: ChartKind
    title: str
    series: tuple[int, ...]  # column indexes, values
    categories: int = 0  # column index of the labels
    stacked: bool = False
    y_title: str = ""
    # Rows the chart leaves out at the end (a total row).
    skip_last: int = 0


@dataclass
class Table:
    name: str  # the sheet's title (at most 31 characters)
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    chart: Chart | None = None
    # A listing of the counted records (large): written streaming, no chart.
    listing: bool = False
