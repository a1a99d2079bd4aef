"""Renderers (PDF, workbooks, snippets). Their libraries (weasyprint, openpyxl,
segno, jinja2 ...) are imported inside the functions that use them, never at
module top level: the HTTP function's cold start must not pay for them.
Documents take plain data and return bytes; they import no storage and no
handlers (import-linter contract in pyproject.toml)."""
