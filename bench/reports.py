"""Report generation over 100,000 deals against openpyxl writing the same rows alone (issue 17).

    python bench/reports.py [--deals 100000] [--runs 3]

For ``summary_period`` and ``sales_funnel`` (period: this year, every deal
created in it): the tables from the rows (domain/reports/types.py) and the
workbook (documents/report_workbook.py: title sheet, the tables with their
charts, the listing of every counted deal with money and date formats) are
timed together. The baseline is openpyxl in write-only mode writing the same
listing rows, plain values, no styles: what any export of those rows costs.
The figure is the ratio of CPU seconds (goal: at most 2x), best of
``--runs``, so machines compare and other processes' load does not count.
Each side runs in a process of its own, which reports its peak RSS (the
100,000 rows themselves included, on both sides). The rows' codec of a
checkpoint (the parked JSON of every deal) is timed apart: the job pays it
once per source.

Rows are made in memory: reading them from DynamoDB is a Query per 200 index
entries and a BatchGetItem per 100 deals, in the job, and depends on the
table's capacity, not on this code.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.documents.report_workbook import render  # noqa: E402
from chalicelib.domain.reports.models import DealRow, Period, Report, ReportType, Rows  # noqa: E402
from chalicelib.domain.reports.periods import Window  # noqa: E402
from chalicelib.domain.reports.types import Context, Stage, build  # noqa: E402
from chalicelib.domain.shared.access import ListAccess  # noqa: E402

NOW = datetime(2026, 12, 15, 9, 0, tzinfo=UTC)
ZONE = "Europe/Berlin"
STAGES = (
    Stage("s1", "Lead", "open", 1),
    Stage("s2", "Qualified", "open", 2),
    Stage("s3", "Offer", "open", 3),
    Stage("s4", "Negotiation", "open", 4),
    Stage("won", "Won", "won", 5),
    Stage("lost", "Lost", "lost", 6),
)
MANAGERS = [f"u{n:02d}" for n in range(25)]
CURRENCIES = ("EUR", "EUR", "EUR", "USD", "GBP")
RATES = {("USD", "EUR"): Decimal("0.92"), ("GBP", "EUR"): Decimal("1.16")}


def make_deals(count: int) -> list[DealRow]:
    rng = random.Random(17)
    deals = []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(count):
        stage = rng.choice(STAGES)
        created = start + timedelta(minutes=rng.randrange(0, 340 * 24 * 60))
        closed = (created + timedelta(days=rng.randrange(1, 60))).date() if stage.status != "open" else None
        deals.append(
            DealRow(
                id=f"01BENCH{n:019d}",
                title=f"Deal {n}",
                responsible_id=rng.choice(MANAGERS),
                stage_id=stage.id,
                stage_status=stage.status,
                created_at=created,
                expected_close_date=(created + timedelta(days=rng.randrange(10, 120))).date(),
                actual_close_date=min(closed, date(2026, 12, 31)) if closed else None,
                value=Decimal(rng.randrange(100, 5_000_000)) / 100,
                currency=rng.choice(CURRENCIES),
                probability=rng.randrange(0, 101, 10),
                contact_ids=(f"c{rng.randrange(20000)}",),
                access=ListAccess(frozenset(), "u00"),
            )
        )
    return deals


def context() -> Context:
    return Context(
        window=Window(date(2026, 1, 1), date(2027, 1, 1), ZONE),
        now=NOW,
        currency="EUR",
        rates=RATES,
        names={m: f"Manager {m}" for m in MANAGERS},
        stages=STAGES,
        contact_types={"t1": "Client", "t2": "Supplier"},
        temperatures={"h": "Hot"},
        task_categories={"k": "Call"},
    )


def report(report_type: ReportType) -> Report:
    return Report(
        id="01BENCHREPORT",
        tenant_id="bench",
        type=report_type,
        period=Period(preset="this_year"),
        time_zone=ZONE,
        created_at=NOW,
        updated_at=NOW,
    )


def generate(report_type: ReportType, rows: Rows) -> tuple[bytes, list[list[Any]]]:
    ctx = context()
    tables = build(report_type, ctx, rows)
    data = render(report(report_type), ctx, tables, "Bench")
    listing = next(t for t in tables if t.listing)
    return data, listing.rows


def baseline(listing: list[list[Any]], header: int) -> bytes:
    """openpyxl alone: the same rows, write-only, plain values."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Deals")
    sheet.append([f"Column {n}" for n in range(header)])
    for row in listing:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def best(runs: int, work: Callable[[], Any]) -> float:
    """CPU seconds of this process (best of ``runs``): other processes on a shared machine do not count."""
    times = []
    for _ in range(runs):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(side: str, report_type: ReportType, count: int, runs: int) -> None:
    """One measurement in this process: prints CPU seconds, peak RSS and the workbook's size."""
    import openpyxl  # noqa: F401  (imported before timing: both sides use it)

    rows = Rows(deals=make_deals(count))
    made: dict[str, Any] = {}
    if side == "report":
        seconds = best(runs, lambda: made.update(zip(("data", "listing"), generate(report_type, rows), strict=True)))
    else:
        listing = generate_listing(report_type, rows)
        width = len(listing[0]) if listing else 0
        seconds = best(runs, lambda: made.update(data=baseline(listing, width), listing=listing))
    result = {"seconds": seconds, "peak_mib": peak_rss_mib(), "bytes": len(made["data"]), "rows": len(made["listing"])}
    print(json.dumps(result))


def generate_listing(report_type: ReportType, rows: Rows) -> list[list[Any]]:
    tables = build(report_type, context(), rows)
    return next(t for t in tables if t.listing).rows


def measure(side: str, report_type: ReportType, count: int, runs: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", side, "--type", report_type.value]
    command += ["--deals", str(count), "--runs", str(runs)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=("report", "openpyxl"), help=argparse.SUPPRESS)
    parser.add_argument("--type", default=ReportType.SUMMARY_PERIOD.value, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, ReportType(args.type), args.deals, args.runs)
        return
    print(f"{args.deals:,} deals, {len(MANAGERS)} managers, {len(STAGES)} stages, {len(CURRENCIES)} currencies")
    print(
        f"{'report':<16} {'rows':>8} {'report CPU s':>13} {'openpyxl CPU s':>15} {'ratio':>6} "
        f"{'peak MiB':>9} {'openpyxl MiB':>13}"
    )
    for report_type in (ReportType.SUMMARY_PERIOD, ReportType.SALES_FUNNEL):
        ours = measure("report", report_type, args.deals, args.runs)
        theirs = measure("openpyxl", report_type, args.deals, args.runs)
        print(
            f"{report_type.value:<16} {ours['rows']:>8,} {ours['seconds']:>13.2f} {theirs['seconds']:>15.2f} "
            f"{ours['seconds'] / theirs['seconds']:>5.2f}x {ours['peak_mib']:>9.0f} {theirs['peak_mib']:>13.0f}"
            f"   (xlsx {ours['bytes'] / 1e6:.1f} MB)"
        )
    from pydantic import TypeAdapter

    deals = make_deals(args.deals)
    codec = TypeAdapter(list[DealRow])
    parked = codec.dump_json(deals)
    dump = best(args.runs, lambda: codec.dump_json(deals))
    load = best(args.runs, lambda: codec.validate_json(parked))
    print(
        f"checkpoint codec: {len(parked) / 1e6:.1f} MB of parked deal rows, "
        f"dump {dump:.2f} CPU s, load {load:.2f} CPU s"
    )


if __name__ == "__main__":
    main()
