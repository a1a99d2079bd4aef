"""Invoice PDFs (issue 13): what the Factur-X and QR work cost on top of
weasyprint, and what importing the documents module costs.

Renders N invoices (default 50; 12 lines each, two taxes, discounts, an EPC
QR code, a logo) with the documents function's full pipeline
(``chalicelib.documents.invoices.render_pdf``: template, Babel, QR, weasyprint
PDF/A-3b, the EN 16931 XML built and validated by drafthorse, embedded and
validated again by factur-x) and, interleaved, weasyprint alone rendering the
same HTML to a plain PDF. Prints the median per PDF of each and their ratio
(goal: at most 1.5), then the import costs, each in a fresh interpreter:
``chalicelib.documents.invoices`` alone (what an HTTP function pays if it
imports it: nothing heavy may load) and the renderer's libraries the first
rendering pulls in (what only the documents function pays, once per container).

    python bench/invoice_pdf.py [--invoices 50]

No assertions: figures for reading (bench/README.md).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

IMPORT_PROBE = """\
import json, sys, time
started = time.perf_counter()
{statement}
seconds = time.perf_counter() - started
heavy = ("weasyprint", "facturx", "drafthorse", "segno", "jinja2", "babel", "lxml", "PIL")
loaded = sorted({{m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}})
print(json.dumps({{"seconds": seconds, "heavy": loaded}}))
"""


def sample(n: int) -> tuple[dict, tuple[bytes, str]]:
    from PIL import Image

    from chalicelib.domain.invoices.documents import document
    from chalicelib.domain.invoices.models import Invoice, InvoiceLine, InvoiceSettings, LineTax

    now = datetime.now(UTC)
    vat19 = LineTax(tax_id="vat19", name="USt 19 %", rate="19")
    vat7 = LineTax(tax_id="vat7", name="USt 7 %", rate="7")
    lines = [
        InvoiceLine(
            title=f"Position {i + 1}",
            description="Beratung und Umsetzung" if i % 3 == 0 else "",
            quantity=str(1 + i % 4),
            price=f"{19.99 + i * 3.5:.2f}",
            discount="10" if i % 4 == 0 else "0",
            taxes=[vat7 if i % 5 == 0 else vat19],
        )
        for i in range(12)
    ]
    invoice = Invoice(
        id=f"01BENCH{n}",
        tenant_id="t",
        number=f"INV{n:07d}",
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 31),
        client_id="c",
        client_name="Müller GmbH",
        billing_address={"street": "Königstr. 1", "city": "Berlin", "zip": "10115", "country": "DE", "state": ""},
        language="de" if n % 2 else "en",
        currency="EUR",
        po_number="PO-4711",
        terms="Zahlbar innerhalb von 30 Tagen ohne Abzug.",
        notes="Vielen Dank für Ihren Auftrag!",
        lines=lines,
        created_at=now,
        updated_at=now,
    )
    settings = InvoiceSettings(
        id="invoices",
        created_at=now,
        updated_at=now,
        company_name="Acme Software GmbH",
        address={"street": "Hauptstr. 5", "city": "München", "zip": "80331", "country": "DE", "state": ""},
        vat_id="DE136695976",
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
    )
    logo = io.BytesIO()
    Image.new("RGB", (600, 200), "navy").save(logo, "JPEG")
    return document(invoice, settings), (logo.getvalue(), "image/jpeg")


def import_cost(statement: str, runs: int = 5) -> tuple[float, list[str]]:
    seconds, heavy = [], []
    for _ in range(runs + 1):  # the first warms .pyc files and the page cache
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE.format(statement=statement)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        data = json.loads(out.strip().splitlines()[-1])
        seconds.append(data["seconds"])
        heavy = data["heavy"]
    return statistics.median(seconds[1:]), heavy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=50)
    args = parser.parse_args()

    import base64

    from chalicelib.documents.invoices import html_to_pdf, render_html, render_pdf

    documents = [sample(n) for n in range(1, args.invoices + 1)]
    # Warm-up: the libraries load and fonts are found once per process (a Lambda container's first call).
    render_pdf(*documents[0])
    full, alone = [], []
    for content, logo in documents:
        started = time.perf_counter()
        pdf, embedded = render_pdf(content, logo)
        full.append(time.perf_counter() - started)
        assert embedded and pdf.startswith(b"%PDF")
        html = render_html(content, logo_src=f"data:{logo[1]};base64,{base64.b64encode(logo[0]).decode()}")
        started = time.perf_counter()
        html_to_pdf(html)
        alone.append(time.perf_counter() - started)
    full_median, alone_median = statistics.median(full), statistics.median(alone)
    print(f"invoices rendered:                {len(documents)} (12 lines, 2 taxes, discounts, QR, logo)")
    print(f"median per PDF, full pipeline:    {full_median * 1000:.0f} ms")
    print(f"median per PDF, weasyprint alone: {alone_median * 1000:.0f} ms")
    print(f"ratio:                            {full_median / alone_median:.2f}  (goal <= 1.5)")
    module, loaded = import_cost("import chalicelib.documents.invoices")
    print(f"import chalicelib.documents.invoices: {module * 1000:.0f} ms; heavy libraries loaded: {loaded or 'none'}")
    first, loaded = import_cost(
        "import chalicelib.documents.invoices, weasyprint, facturx, drafthorse.models.document, segno, jinja2, babel"
    )
    print(f"the renderer's libraries (first rendering): {first * 1000:.0f} ms ({', '.join(loaded)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
