"""The EPC QR code ("GiroCode", EPC069-12 version 002) that a banking app
scans to fill in a SEPA credit transfer: shown on EUR invoices when the
company profile has an IBAN.

``payload`` is the text exactly as the standard lays it out (UTF-8, lines
separated by LF, trailing empty lines left out); ``qr_code`` is segno's EPC
helper (error correction level M, as the standard asks, forced to UTF-8),
whose data the tests compare with ``payload``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

MAX_NAME = 70
MAX_TEXT = 140


def payload(*, name: str, iban: str, amount: Decimal | str, text: str = "", bic: str = "") -> str:
    value = Decimal(amount)
    if not Decimal("0.01") <= value <= Decimal("999999999.99"):
        raise ValueError("an EPC amount is 0.01 .. 999999999.99 EUR")
    lines = [
        "BCD",  # service tag
        "002",  # version
        "1",  # character set: UTF-8
        "SCT",  # SEPA credit transfer
        bic.replace(" ", "").upper(),
        " ".join(name.split())[:MAX_NAME],
        iban.replace(" ", "").upper(),
        # Two decimals at most; trailing zeros dropped ("EUR64.2"), as segno writes it.
        f"EUR{value:.2f}".rstrip("0").rstrip("."),
        "",  # purpose
        "",  # structured creditor reference (not with a text)
        " ".join(text.split())[:MAX_TEXT],
    ]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def qr_code(*, name: str, iban: str, amount: Decimal | str, text: str = "", bic: str = "") -> Any:
    import segno.helpers

    return segno.helpers.make_epc_qr(
        name=" ".join(name.split())[:MAX_NAME],
        iban=iban.replace(" ", "").upper(),
        amount=Decimal(amount),
        text=" ".join(text.split())[:MAX_TEXT] or None,
        bic=bic.replace(" ", "").upper() or None,
        encoding="utf-8",
    )


def svg_data_uri(**fields: Any) -> str:
    return str(qr_code(**fields).svg_data_uri(scale=4, border=2, dark="#000000"))
