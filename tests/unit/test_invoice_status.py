"""The invoice status machine (INV-10, SPEC "Invoice status transitions"):
draft -> billed, billed -> paid, billed -> rejected, rejected -> draft,
paid -> billed; every other move is a 409 naming the allowed ones."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.domain.invoices.models import InvoiceStatus, StatusMoveRefused, check_move
from chalicelib.domain.shared.errors import Conflict

S = InvoiceStatus
# Written out by hand from SPEC, not derived from the code.
ALLOWED = {(S.DRAFT, S.BILLED), (S.BILLED, S.PAID), (S.BILLED, S.REJECTED), (S.REJECTED, S.DRAFT), (S.PAID, S.BILLED)}
NAMED = {S.DRAFT: "billed", S.BILLED: "paid, rejected", S.PAID: "billed", S.REJECTED: "draft"}


@pytest.mark.parametrize(("current", "wanted"), list(itertools.product(S, S)))
def test_every_move(current: InvoiceStatus, wanted: InvoiceStatus) -> None:
    if (current, wanted) in ALLOWED:
        check_move(current, wanted)
        return
    with pytest.raises(StatusMoveRefused) as refused:
        check_move(current, wanted)
    assert isinstance(refused.value, Conflict)
    assert refused.value.detail.endswith(f"it may go to: {NAMED[current]}.")
    assert f"from {current.value} to {wanted.value}" in refused.value.detail
