"""Attachment names and types: paths and control characters go, download names are
plain ASCII, content types come from the allow list."""

from __future__ import annotations

import pytest

from chalicelib.domain.records.files import ascii_filename, normalise_content_type, sanitise_filename
from chalicelib.domain.shared.errors import UnsupportedMediaType, ValidationFailed


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("offer.pdf", "offer.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\anna\\Angebot März.docx", "Angebot März.docx"),
        ("  .hidden  ", "hidden"),
        ("a\x00b\r\nc\u200b.txt", "ab c.txt"),
        ("tab\there.csv", "tab here.csv"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_file_names_lose_their_path_and_control_characters(raw, clean):
    assert sanitise_filename(raw) == clean


@pytest.mark.parametrize("raw", ["", "..", "dir/", " / . "])
def test_a_file_name_must_remain(raw):
    with pytest.raises(ValidationFailed):
        sanitise_filename(raw)


def test_download_names_are_plain_ascii():
    assert ascii_filename("Müller Angebot.pdf") == "Muller Angebot.pdf"
    assert ascii_filename('say "hi"\\.txt') == "say _hi.txt"
    assert ascii_filename("日本.pdf") == "file.pdf"


def test_content_types_come_from_the_allow_list():
    assert normalise_content_type("Application/PDF") == "application/pdf"
    assert normalise_content_type("text/csv; charset=UTF-8; header=present") == "text/csv; charset=utf-8"
    assert normalise_content_type("image/png; name=x") == "image/png"
    for refused in ("text/html", "image/svg+xml", "application/x-msdownload", "application/javascript", "nonsense"):
        with pytest.raises(UnsupportedMediaType):
            normalise_content_type(refused)
