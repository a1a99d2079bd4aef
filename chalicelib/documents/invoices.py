"""The invoice's documents (INV-9, INV-11): the print view (HTML), the PDF
and the text of the mail that carries it, in the invoice's language.

- One jinja2 template (``templates/invoice.html``) for the print view and
  the PDF: A4, the company profile and logo, the addresses, the lines, a tax
  table, the totals, terms, notes, the payment block with the EPC QR code
  (EUR and an IBAN), page numbers ("Page 1 of 2") in the page footer.
- Dates, numbers and money are formatted by Babel for the language (``en``:
  "Dec 1, 2026", "€1,234.50"; ``de``: "1. Dezember 2026", "1.234,50 €"),
  money always with the currency's ISO 4217 digits (JPY 0, BHD 3).
- The PDF is PDF/A-3b (weasyprint) with the Factur-X XML of profile EN 16931
  embedded (``einvoice``): a German or EU customer's software reads the
  invoice from it. A line with two taxes cannot be expressed in EN 16931;
  such an invoice's PDF carries no XML.

jinja2, Babel, weasyprint, segno, drafthorse and factur-x are imported inside
the functions: this module costs nothing to import (the HTTP function imports
it for the print view only when one is asked for).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from chalicelib.documents import einvoice, epc

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
LOCALES = {"en": "en_GB", "de": "de_DE"}

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice",
        "bill_to": "Bill to",
        "ship_to": "Ship to",
        "number": "Invoice number",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "po_number": "PO number",
        "currency": "Currency",
        "exchange_rate": "Exchange rate",
        "description": "Description",
        "quantity": "Qty",
        "unit_price": "Unit price",
        "discount": "Disc.",
        "tax": "Tax",
        "net": "Net",
        "rate": "Rate",
        "base": "Base",
        "amount": "Amount",
        "subtotal": "Subtotal",
        "discount_total": "Discount",
        "net_total": "Net total",
        "total": "Total",
        "terms": "Terms",
        "notes": "Notes",
        "payment": "Payment",
        "pay_by": "Please transfer by",
        "reference": "Reference",
        "scan": "Scan with your banking app to pay (EPC QR code).",
        "vat_id": "VAT ID",
        "page": "Page",
        "of": "of",
        "mail_subject": "Invoice {number} from {company}",
        "mail_greeting": "Hello,",
        "mail_body": "please find attached invoice {number} of {date} for {total}, due on {due}.",
        "mail_closing": "Kind regards",
    },
    "de": {
        "invoice": "Rechnung",
        "bill_to": "Rechnungsempfänger",
        "ship_to": "Lieferanschrift",
        "number": "Rechnungsnummer",
        "issue_date": "Rechnungsdatum",
        "due_date": "Fällig am",
        "po_number": "Bestellnummer",
        "currency": "Währung",
        "exchange_rate": "Wechselkurs",
        "description": "Beschreibung",
        "quantity": "Menge",
        "unit_price": "Einzelpreis",
        "discount": "Rabatt",
        "tax": "Steuer",
        "net": "Netto",
        "rate": "Satz",
        "base": "Basis",
        "amount": "Betrag",
        "subtotal": "Zwischensumme",
        "discount_total": "Rabatt",
        "net_total": "Nettobetrag",
        "total": "Gesamtbetrag",
        "terms": "Zahlungsbedingungen",
        "notes": "Hinweise",
        "payment": "Zahlung",
        "pay_by": "Bitte überweisen Sie bis zum",
        "reference": "Verwendungszweck",
        "scan": "Mit der Banking-App scannen und bezahlen (GiroCode).",
        "vat_id": "USt-IdNr.",
        "page": "Seite",
        "of": "von",
        "mail_subject": "Rechnung {number} von {company}",
        "mail_greeting": "Guten Tag,",
        "mail_body": "anbei erhalten Sie die Rechnung {number} vom {date} über {total}, fällig am {due}.",
        "mail_closing": "Mit freundlichen Grüßen",
    },
}


class Formats:
    """Babel's formats for one language and currency."""

    def __init__(self, language: str, currency: str, minor_units: int):
        from babel import Locale

        self.language = language if language in LABELS else "en"
        self.locale = Locale.parse(LOCALES[self.language])
        self.currency = currency
        self.minor_units = minor_units

    def money(self, amount: str | Decimal, digits: int | None = None) -> str:
        """With the currency's ISO 4217 digits (CLDR's differ for some: AFN, ALL ...)."""
        import copy

        places = self.minor_units if digits is None else digits
        pattern = copy.copy(self.locale.currency_formats["standard"])
        pattern.frac_prec = (places, places)
        return str(pattern.apply(Decimal(amount), self.locale, currency=self.currency, currency_digits=False))

    def unit_price(self, amount: str) -> str:
        """A unit price keeps the decimals it was given beyond the minor unit (0.0125 EUR)."""
        exponent = Decimal(amount).normalize().as_tuple().exponent
        decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return self.money(amount, max(self.minor_units, decimals))

    def number(self, value: str | Decimal) -> str:
        from babel.numbers import format_decimal

        return str(format_decimal(Decimal(value).normalize() + 0, locale=self.locale, decimal_quantization=False))

    def percent(self, value: str | Decimal) -> str:
        return f"{self.number(value)} %"

    def date(self, iso: str) -> str:
        from datetime import date

        from babel.dates import format_date

        return str(format_date(date.fromisoformat(iso), format="long", locale=self.locale))


def _address_lines(address: Mapping[str, str] | None) -> list[str]:
    if not address:
        return []
    lines = [line for line in (address.get("street") or "").splitlines() if line.strip()]
    city = " ".join(p for p in (address.get("zip"), address.get("city")) if p)
    if city:
        lines.append(city)
    if address.get("state"):
        lines.append(address["state"])
    if address.get("country"):
        lines.append(address["country"])
    return lines


def _css_string(text: str) -> str:
    """Text for a CSS string in a <style> element (no HTML decoding happens there)."""
    return "".join("\\" + c if c in '\\"' else ("\\3C " if c == "<" else (" " if c in "\r\n" else c)) for c in text)


def _iban_groups(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def context(document: Mapping[str, Any], logo_src: str | None, qr_src: str | None) -> dict[str, Any]:
    """What the template shows: the document's values, formatted."""
    f = Formats(document.get("language", "en"), document["currency"], int(document["minor_units"]))
    t = LABELS[f.language]
    seller = document["seller"]
    totals = document["totals"]
    exchange = None
    if document.get("exchange_rate") and document.get("exchange_currency"):
        exchange = f"1 {document['currency']} = {f.number(document['exchange_rate'])} {document['exchange_currency']}"
    footer = seller.get("company_name") or ""
    if seller.get("vat_id"):
        footer += f" · {t['vat_id']} {seller['vat_id']}"
    consignee = document.get("consignee") or {}
    return {
        "d": document,
        "t": t,
        "lang": f.language,
        "logo_src": logo_src,
        "qr_src": qr_src,
        "footer_css": _css_string(footer),
        "seller_address": _address_lines(seller.get("address")),
        "client_address": _address_lines(document["client"].get("address")),
        "consignee_address": _address_lines(consignee.get("address")),
        "issue_date": f.date(document["issue_date"]),
        "due_date": f.date(document["due_date"]),
        "exchange": exchange,
        "iban": _iban_groups(seller.get("iban") or ""),
        "lines": [
            {
                "title": line["title"],
                "description": line.get("description") or "",
                "quantity": f.number(line["quantity"]),
                "price": f.unit_price(line["price"]),
                "discount": f.percent(line["discount"]) if Decimal(line["discount"]) else "",
                "taxes": ", ".join(f"{tax['name']}" for tax in line["taxes"]),
                "net": f.money(line["net"]),
            }
            for line in document["lines"]
        ],
        "taxes": [
            {
                "name": tax["name"],
                "rate": f.percent(tax["rate"]),
                "base": f.money(tax["base"]),
                "amount": f.money(tax["amount"]),
            }
            for tax in totals["taxes"]
        ],
        "has_discount": Decimal(totals["discount"]) != 0,
        "totals": {k: f.money(totals[k]) for k in ("subtotal", "discount", "net", "tax_total", "total")},
    }


def qr_data_uri(document: Mapping[str, Any]) -> str | None:
    fields = document.get("epc")
    return epc.svg_data_uri(**fields) if fields else None


def render_html(document: Mapping[str, Any], *, logo_src: str | None) -> str:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=jinja2.StrictUndefined
    )
    template = environment.get_template("invoice.html")
    return template.render(**context(document, logo_src, qr_data_uri(document)))


def html_to_pdf(html: str) -> bytes:
    """weasyprint alone: PDF/A-3b, A4 (the page size is the template's)."""
    import weasyprint

    return bytes(weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf(pdf_variant="pdf/a-3b"))


def render_pdf(document: Mapping[str, Any], logo: tuple[bytes, str] | None) -> tuple[bytes, bool]:
    """(PDF/A-3 bytes, whether the Factur-X XML is embedded)."""
    logo_src = None
    if logo is not None:
        data, content_type = logo
        logo_src = f"data:{content_type};base64,{base64.b64encode(data).decode()}"
    pdf = html_to_pdf(render_html(document, logo_src=logo_src))
    xml = einvoice.build_xml(document)
    if xml is None:
        return pdf, False
    title = f"{LABELS.get(document.get('language', 'en'), LABELS['en'])['invoice']} {document['number']}"
    author = document["seller"].get("company_name") or ""
    return einvoice.embed(pdf, xml, language=document.get("language", "en"), title=title, author=author), True


def mail_text(document: Mapping[str, Any]) -> tuple[str, str]:
    f = Formats(document.get("language", "en"), document["currency"], int(document["minor_units"]))
    t = LABELS[f.language]
    company = document["seller"].get("company_name") or ""
    subject = t["mail_subject"].format(number=document["number"], company=company).strip()
    if subject.endswith((" from", " von")):
        subject = subject.rsplit(" ", 1)[0]
    body = t["mail_body"].format(
        number=document["number"],
        date=f.date(document["issue_date"]),
        total=f.money(document["totals"]["total"]),
        due=f.date(document["due_date"]),
    )
    parts = [t["mail_greeting"], "", body]
    if document.get("notes"):
        parts += ["", document["notes"]]
    parts += ["", t["mail_closing"], company]
    return subject, "\n".join(parts).rstrip() + "\n"


class InvoiceRenderer:
    """The Renderer port (domain/invoices/ports.py)."""

    def pdf(self, document: Mapping[str, Any], logo: tuple[bytes, str] | None) -> tuple[bytes, bool]:
        return render_pdf(document, logo)

    def html(self, document: Mapping[str, Any], logo_url: str | None) -> str:
        return render_html(document, logo_src=logo_url)

    def mail(self, document: Mapping[str, Any]) -> tuple[str, str]:
        return mail_text(document)
