"""The e-invoice data of an invoice (INV-11): a Factur-X / ZUGFeRD XML of
profile EN 16931 (a UN/CEFACT Cross Industry Invoice), built with drafthorse
and validated against the EN 16931 schema drafthorse ships, then embedded
into the PDF/A-3 by the factur-x library (which checks it against its own
copy of the schema as well).

Mapping decisions (EN 16931 has one VAT category per line):
- a line with one tax: VAT category S at its rate (Z when the rate is 0);
- a line without tax: category E (exempt) with the exemption reason
  "Exempt from VAT" / "Steuerbefreit";
- a line with two taxes cannot be expressed: ``build_xml`` returns None and
  the PDF carries no XML (``e_invoice: false`` in the document state);
- the VAT breakdown groups the lines per category and rate; each group's
  amount is its taxes' amounts as the invoice computed them (each rounded
  once on its base: BR-CO-17);
- a line's discount is a line allowance, its net price the unit price;
- the PO number is the buyer's order reference (BT-13), the notes and terms
  are notes (BT-22) and payment terms (BT-20), the IBAN/BIC a SEPA credit
  transfer (payment means 58) when set.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

PROFILE = "urn:cen.eu:en16931:2017"
SCHEMA = "FACTUR-X_EN16931"
UNIT = "C62"  # "one" (UN/ECE Recommendation 20)
EXEMPT = {"en": "Exempt from VAT", "de": "Steuerbefreit"}


def country_code(value: str | None, fallback: str = "DE") -> str:
    """ISO 3166-1 alpha-2 for an address's country as typed ("DE", "Germany", "Deutschland")."""
    text = (value or "").strip()
    if len(text) == 2 and text.isalpha():
        return text.upper()
    if text:
        import pycountry

        try:
            return str(pycountry.countries.lookup(text).alpha_2)
        except LookupError:
            german = {"deutschland": "DE", "österreich": "AT", "schweiz": "CH", "frankreich": "FR"}
            if text.casefold() in german:
                return german[text.casefold()]
    return fallback


def _category(line: Mapping[str, Any]) -> tuple[str, Decimal] | None:
    taxes = line["taxes"]
    if len(taxes) > 1:
        return None
    if not taxes:
        return "E", Decimal(0)
    rate = Decimal(taxes[0]["rate"])
    return ("Z" if rate == 0 else "S"), rate


def expressible(document: Mapping[str, Any]) -> bool:
    return all(_category(line) is not None for line in document["lines"])


def _address(target: Any, address: Mapping[str, str] | None, fallback_country: str) -> None:
    address = address or {}
    street = (address.get("street") or "").splitlines()
    if street:
        target.line_one = street[0]
    if len(street) > 1:
        target.line_two = " ".join(street[1:])
    if address.get("zip"):
        target.postcode = address["zip"]
    if address.get("city"):
        target.city_name = address["city"]
    target.country_id = country_code(address.get("country"), fallback_country)


def build_xml(document: Mapping[str, Any]) -> bytes | None:
    """The CII XML of the document, schema-valid; None when a line has two taxes."""
    if not expressible(document):
        return None
    from drafthorse.models.accounting import ApplicableTradeTax, TradeAllowanceCharge
    from drafthorse.models.document import Document
    from drafthorse.models.note import IncludedNote
    from drafthorse.models.party import TaxRegistration
    from drafthorse.models.payment import PaymentMeans, PaymentTerms
    from drafthorse.models.tradelines import LineItem

    currency = document["currency"]
    seller = document["seller"]
    seller_country = country_code((seller.get("address") or {}).get("country"))
    doc = Document()
    doc.context.guideline_parameter.id = PROFILE
    doc.header.id = document["number"]
    doc.header.type_code = "380"  # commercial invoice
    doc.header.issue_date_time = date.fromisoformat(document["issue_date"])
    for text in (document.get("notes"),):
        if text:
            doc.header.notes.add(IncludedNote(content=text))

    agreement = doc.trade.agreement
    agreement.seller.name = seller.get("company_name") or "-"
    _address(agreement.seller.address, seller.get("address"), seller_country)
    if seller.get("vat_id"):
        agreement.seller.tax_registrations.add(TaxRegistration(id=("VA", seller["vat_id"])))
    client = document["client"]
    agreement.buyer.name = client.get("name") or "-"
    _address(agreement.buyer.address, client.get("address"), seller_country)
    if document.get("po_number"):
        agreement.buyer_order.issuer_assigned_id = document["po_number"]
    consignee = document.get("consignee")
    if consignee and consignee.get("address"):
        ship_to = doc.trade.delivery.ship_to
        ship_to.name = consignee.get("name") or client.get("name") or "-"
        _address(ship_to.address, consignee.get("address"), seller_country)

    settlement = doc.trade.settlement
    settlement.currency_code = currency
    means = PaymentMeans()
    if seller.get("iban"):
        means.type_code = "58"  # SEPA credit transfer
        means.payee_account.iban = seller["iban"]
        if seller.get("bic"):
            means.payee_institution.bic = seller["bic"]
    else:
        means.type_code = "1"  # not defined
    settlement.payment_means.add(means)
    settlement.payment_reference = document["number"]
    terms = PaymentTerms()
    if document.get("terms"):
        terms.description = document["terms"]
    terms.due = date.fromisoformat(document["due_date"])
    settlement.terms.add(terms)

    groups: dict[tuple[str, Decimal], list[Decimal]] = {}
    tax_amounts = {t["tax_id"]: Decimal(t["amount"]) for t in document["totals"]["taxes"]}
    counted: set[str] = set()
    for number, line in enumerate(document["lines"], start=1):
        category = _category(line)
        assert category is not None
        item = LineItem()
        item.document.line_id = str(number)
        item.product.name = line["title"] or "-"
        if line.get("description"):
            item.product.description = line["description"]
        item.agreement.net.amount = Decimal(line["price"])
        item.delivery.billed_quantity = (Decimal(line["quantity"]), UNIT)
        item.settlement.trade_tax.type_code = "VAT"
        item.settlement.trade_tax.category_code = category[0]
        item.settlement.trade_tax.rate_applicable_percent = category[1]
        if Decimal(line["discount_amount"]):
            allowance = TradeAllowanceCharge()
            allowance.indicator = False
            allowance.calculation_percent = Decimal(line["discount"])
            allowance.basis_amount = Decimal(line["amount"])
            allowance.actual_amount = Decimal(line["discount_amount"])
            allowance.reason = "Discount"
            item.settlement.allowance_charge.add(allowance)
        item.settlement.monetary_summation.total_amount = Decimal(line["net"])
        doc.trade.items.add(item)
        group = groups.setdefault(category, [Decimal(0), Decimal(0)])
        group[0] += Decimal(line["net"])
        for tax in line["taxes"]:
            if tax["tax_id"] not in counted:  # a tax's amount is counted once, in its group
                counted.add(tax["tax_id"])
                group[1] += tax_amounts.get(tax["tax_id"], Decimal(0))

    language = document.get("language", "en")
    for (code, rate), (base, amount) in groups.items():
        trade_tax = ApplicableTradeTax()
        trade_tax.type_code = "VAT"
        trade_tax.category_code = code
        trade_tax.rate_applicable_percent = rate
        trade_tax.basis_amount = base
        trade_tax.calculated_amount = amount
        if code == "E":
            trade_tax.exemption_reason = EXEMPT.get(language, EXEMPT["en"])
        settlement.trade_tax.add(trade_tax)

    totals = document["totals"]
    summation = settlement.monetary_summation
    summation.line_total = Decimal(totals["net"])
    summation.charge_total = Decimal(0)
    summation.allowance_total = Decimal(0)
    summation.tax_basis_total = Decimal(totals["net"])
    summation.tax_total = (Decimal(totals["tax_total"]), currency)
    summation.grand_total = Decimal(totals["total"])
    summation.due_amount = Decimal(totals["total"])
    # drafthorse validates the XML against its EN 16931 schema while serialising.
    return bytes(doc.serialize(schema=SCHEMA))


def check_xml(xml: bytes) -> None:
    """Raise when the XML is not valid against factur-x's EN 16931 schema."""
    from facturx import xml_check_xsd

    xml_check_xsd(xml, flavor="factur-x", level="en16931")


def embed(pdf: bytes, xml: bytes, *, language: str, title: str, author: str) -> bytes:
    """The PDF/A-3 with the XML attached as factur-x.xml (AFRelationship Data)
    and the Factur-X XMP metadata; factur-x checks the XML against its schema."""
    from facturx import generate_from_binary

    return bytes(
        generate_from_binary(
            pdf,
            xml,
            flavor="factur-x",
            level="en16931",
            check_xsd=True,
            lang=language,
            pdf_metadata={"author": author, "keywords": "Factur-X, Invoice", "title": title, "subject": title},
        )
    )
