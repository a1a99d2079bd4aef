"""The pipeline's rows are pure decimal arithmetic over the stage totals."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from chalicelib.domain.deals.pipeline import build
from chalicelib.domain.settings.lists import ListEntry


def test_build_is_pure_decimal_arithmetic():
    from datetime import datetime

    now = datetime.now(UTC)
    stage = ListEntry(
        id="s1",
        list_name="deal-stages",
        name="S",
        order=0,
        probability=50,
        status="open",
        created_at=now,
        updated_at=now,
    )
    totals = {("s1", "JPY"): [2, Decimal("1001"), Decimal("500.5")], ("gone", "EUR"): [1, Decimal(5), Decimal(5)]}
    result = build([stage], totals, "JPY", [])
    assert result.stages[0].sum == "1001" and result.stages[0].weighted_sum == "501" and result.count == 2
