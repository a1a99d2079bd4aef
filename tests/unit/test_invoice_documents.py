"""The invoice documents (INV-9, INV-11): the PDF's text in English and
German (Babel's dates, numbers and money), the embedded Factur-X XML
(EN 16931) extracted and schema-valid, the EPC QR payload, and the cases
EN 16931 cannot express. Rendering needs weasyprint and pango (make setup)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.documents import einvoice, epc
from chalicelib.documents.invoices import Formats, mail_text, render_html, render_pdf
from chalicelib.domain.invoices.documents import document
from chalicelib.domain.invoices.models import Invoice, InvoiceLine, InvoiceSettings, InvoiceStatus, LineTax

NOW = datetime(2026, 12, 1, tzinfo=UTC)
VAT19 = LineTax(tax_id="vat19", name="USt 19 %", rate="19")
VAT7 = LineTax(tax_id="vat7", name="USt 7 %", rate="7")


def settings(**fields: Any) -> InvoiceSettings:
    values: dict[str, Any] = {
        "id": "invoices",
        "created_at": NOW,
        "updated_at": NOW,
        "company_name": "Acme Software GmbH",
        "address": {"street": "Hauptstr. 5", "city": "München", "zip": "80331", "country": "DE", "state": ""},
        "vat_id": "DE136695976",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
    }
    return InvoiceSettings(**{**values, **fields})


def invoice(
    language: str = "de", currency: str = "EUR", lines: list[InvoiceLine] | None = None, **fields: Any
) -> Invoice:
    values: dict[str, Any] = {
        "id": "01INVOICE",
        "tenant_id": "t1",
        "number": "INV0000001",
        "issue_date": date(2026, 12, 1),
        "due_date": date(2026, 12, 31),
        "client_id": "c1",
        "client_name": "Müller GmbH",
        "billing_address": {
            "street": "Königstr. 1",
            "city": "Berlin",
            "zip": "10115",
            "country": "Deutschland",
            "state": "",
        },
        "language": language,
        "currency": currency,
        "po_number": "PO-4711",
        "terms": "Zahlbar innerhalb von 30 Tagen.",
        "notes": "Vielen Dank für Ihren Auftrag!",
        "lines": lines
        or [
            InvoiceLine(
                title="Consulting", description="Workshop", quantity="3", price="19.99", discount="10", taxes=[VAT19]
            ),
            InvoiceLine(title="Book", quantity="2", price="12.50", taxes=[VAT7]),
        ],
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Invoice(**{**values, **fields})


def pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return text.replace("\xa0", " ").replace("\u202f", " ")


@pytest.fixture(scope="module")
def german_pdf() -> bytes:
    pdf, embedded = render_pdf(document(invoice("de"), settings()), None)
    assert embedded
    return pdf


def test_german_pdf_text(german_pdf: bytes) -> None:
    text = pdf_text(german_pdf)
    for expected in (
        "Rechnung INV0000001",
        "Acme Software GmbH",
        "USt-IdNr.: DE136695976",
        "Müller GmbH",
        "Königstr. 1",
        "10115 Berlin",
        "1. Dezember 2026",
        "31. Dezember 2026",
        "PO-4711",
        "Consulting",
        "19,99 €",
        "10 %",
        "53,97 €",
        "USt 19 %",
        "10,25 €",
        "1,75 €",
        "Gesamtbetrag",
        "90,97 €",  # 53.97 + 25.00 + 10.25 + 1.75
        "Zahlbar innerhalb von 30 Tagen.",
        "Vielen Dank für Ihren Auftrag!",
        "DE89 3704 0044 0532 0130 00",
        "Seite 1 von 1",
    ):
        assert expected in text, expected


def test_pdf_is_pdf_a3_with_schema_valid_factur_x_en16931(german_pdf: bytes) -> None:
    from facturx import get_facturx_xml_from_pdf, get_level, xml_check_xsd
    from lxml import etree
    from pypdf import PdfReader

    filename, xml = get_facturx_xml_from_pdf(german_pdf)
    assert filename == "factur-x.xml"
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    assert get_level(tree) == "en16931"
    ns = {
        "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
        "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    }

    def values(path: str) -> list[str]:
        return [e.text for e in tree.xpath(path, namespaces=ns)]

    assert values("//rsm:ExchangedDocument/ram:ID") == ["INV0000001"]
    assert values("//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == ["DE136695976"]
    assert values("//ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID") == ["DE"]  # from "Deutschland"
    assert values("//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == ["PO-4711"]
    assert values("//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == ["DE89370400440532013000"]
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
    assert values(summation + "ram:LineTotalAmount") == ["78.97"]
    assert values(summation + "ram:TaxTotalAmount") == ["12.00"]
    assert values(summation + "ram:GrandTotalAmount") == ["90.97"]
    breakdown = tree.xpath("//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=ns)
    groups = {
        (t.findtext("ram:CategoryCode", namespaces=ns), t.findtext("ram:RateApplicablePercent", namespaces=ns)): (
            t.findtext("ram:BasisAmount", namespaces=ns),
            t.findtext("ram:CalculatedAmount", namespaces=ns),
        )
        for t in breakdown
    }
    assert groups == {("S", "19"): ("53.97", "10.25"), ("S", "7"): ("25.00", "1.75")}
    reader = PdfReader(io.BytesIO(german_pdf))
    metadata = reader.xmp_metadata
    assert metadata is not None
    raw = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in raw and "EN 16931" in raw


def test_english_formats_and_jpy_bhd_digits() -> None:
    english = Formats("en", "EUR", 2)
    assert english.money("1234.5") == "€1,234.50" and english.date("2026-12-01") == "1 December 2026"
    assert Formats("de", "EUR", 2).money("1234.5") == "1.234,50\xa0€"
    assert Formats("en", "JPY", 0).money("1001") == "JP¥1,001"
    assert Formats("en", "BHD", 3).money("2.581") == "BHD2.581"
    # CLDR has 0 digits for ALL; ISO 4217 (and so the invoice) has 2.
    assert Formats("en", "ALL", 2).money("10.56").endswith("10.56")
    assert Formats("de", "EUR", 2).unit_price("0.0125") == "0,0125\xa0€"


def test_english_html_and_mail() -> None:
    content = document(invoice("en"), settings())
    html = render_html(content, logo_src=None)
    assert "Invoice INV0000001" in html and "1 December 2026" in html and "€90.97" in html and "Page" in html
    subject, text = mail_text(content)
    assert subject == "Invoice INV0000001 from Acme Software GmbH"
    assert "€90.97" in text and "Vielen Dank für Ihren Auftrag!" in text


def test_user_text_is_escaped_in_html_and_css() -> None:
    content = document(invoice("en", notes="<script>alert(1)</script>"), settings(company_name='Evil" </style><b>'))
    html = render_html(content, logo_src=None)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "</style><b>" not in html


def test_epc_payload_follows_the_standard_and_matches_segno() -> None:
    import segno

    content = document(invoice("de"), settings())
    assert content["epc"] == {
        "name": "Acme Software GmbH",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
        "amount": "90.97",
        "text": "INV0000001",
    }
    payload = epc.payload(**content["epc"])
    assert (
        payload == "BCD\n002\n1\nSCT\nCOBADEFFXXX\nAcme Software GmbH\nDE89370400440532013000\nEUR90.97\n\n\nINV0000001"
    )
    # The code segno draws holds exactly this text, at error correction level M.
    code = epc.qr_code(**content["epc"])
    assert code.error == "M"
    assert code.matrix == segno.make_qr(payload.encode("utf-8"), error="m", boost_error=False).matrix
    assert epc.payload(name="A", iban="DE89370400440532013000", amount="64.20") == (
        "BCD\n002\n1\nSCT\n\nA\nDE89370400440532013000\nEUR64.2"
    )
    with pytest.raises(ValueError):
        epc.payload(name="A", iban="DE89370400440532013000", amount="0")


def test_no_epc_code_without_iban_or_in_another_currency() -> None:
    assert document(invoice("de"), settings(iban=None))["epc"] is None
    usd = invoice("en", currency="USD", exchange_rate="0.92", exchange_currency="EUR")
    assert document(usd, settings())["epc"] is None


def test_what_en16931_cannot_express() -> None:
    two_taxes = InvoiceLine(title="X", quantity="1", price="100", taxes=[VAT19, VAT7])
    content = document(invoice(lines=[two_taxes]), settings())
    assert einvoice.build_xml(content) is None
    exempt = InvoiceLine(title="Y", quantity="1", price="100")
    xml = einvoice.build_xml(document(invoice(lines=[exempt]), settings()))
    assert xml is not None and b"<ram:CategoryCode>E</ram:CategoryCode>" in xml and b"Steuerbefreit" in xml
    einvoice.check_xml(xml)


def test_a_billed_invoice_shows_the_seller_it_was_billed_with() -> None:
    billed = invoice(status=InvoiceStatus.BILLED, seller=settings(company_name="Old Name").seller())
    assert document(billed, settings(company_name="New Name"))["seller"]["company_name"] == "Old Name"
    draft = invoice(seller=settings(company_name="Old Name").seller())
    assert document(draft, settings(company_name="New Name"))["seller"]["company_name"] == "New Name"
