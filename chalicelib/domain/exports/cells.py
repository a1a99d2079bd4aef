"""Spreadsheet formulas in CSV cells (ADM-1, DESIGN "Security").

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run as a formula by Excel and LibreOffice when the file is opened
(CSV injection). Every CSV this CRM writes prefixes such a cell with ``'``,
which spreadsheets show as text. A value that already starts with ``'``
followed by one of those characters gets one more, so the rule can be
undone exactly: ``restore`` (used by the import) takes one ``'`` off a cell
that starts with ``'`` and then, after any further quotes, one of those
characters. That is why an exported file imported again gives back exactly
the values it was made from ("-5" stays "-5", "'=x" stays "'=x").
"""

from __future__ import annotations

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _quoted_trigger(value: str) -> bool:
    rest = value.lstrip("'")
    return value.startswith("'") and rest.startswith(TRIGGERS)


def neutralise(value: str) -> str:
    if value.startswith(TRIGGERS) or _quoted_trigger(value):
        return "'" + value
    return value


def restore(value: str) -> str:
    return value[1:] if _quoted_trigger(value) else value


def is_formula(value: str) -> bool:
    """A cell a spreadsheet would run: ``=`` or ``@`` followed by a letter or a call."""
    text = value.lstrip()
    return len(text) > 1 and text[0] in "=@" and (text[1].isalpha() or text[1] in "(+-")
