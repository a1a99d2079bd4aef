"""IMP-4: reading real-world CSV files (domain/imports/csvfile.py): encodings,
delimiters, quoting, and bad input that never stops the reading."""

from __future__ import annotations

import codecs

import pytest

from chalicelib.domain.imports.csvfile import MAX_RECORD_BYTES, Dialect, Records, detect, read_lines
from chalicelib.domain.shared.errors import ValidationFailed

ROWS = [["Vorname", "Nachname", "Notizen"], ["Jürgen", "Müller", "Zeile 1\r\nZeile 2"], ["Anna", "Schäfer", "€ 5"]]


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",", newline: str = "\r\n") -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return buffer.getvalue().encode(encoding)


def read_all(data: bytes, block: int = 7, **options: object) -> tuple[list[list[str]], list[str | None]]:
    layout = detect(data, complete=True, **options)  # type: ignore[arg-type]
    blocks = [data[i : i + block] for i in range(layout.data_start, len(data), block)]
    records = list(
        Records(
            blocks,
            layout.dialect,
            start=layout.data_start,
            first_line=layout.data_line,
            expected_cells=len(layout.header),
        )
    )
    return [r.cells for r in records], [r.problem for r in records]


@pytest.mark.parametrize(
    ("encoding", "prefix", "expected"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("cp1252", b"", "windows-1252"),
        ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16"),
        ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16"),
        ("utf-16-le", b"", "utf-16-le"),
    ],
)
def test_encodings_are_detected_and_read_back_exactly(encoding: str, prefix: bytes, expected: str) -> None:
    data = prefix + csv_bytes(ROWS, encoding)
    layout = detect(data, complete=True)
    assert layout.dialect.encoding.name == expected
    assert layout.header == ROWS[0]
    assert read_all(data)[0] == ROWS[1:]


def test_latin1_without_windows_characters_is_iso_8859_1() -> None:
    rows = [["Name", "Ort"], ["Jürgen Groß", "Köln"], ["Zoë", "Genève"]]
    data = csv_bytes(rows, "latin-1")
    assert detect(data, complete=True).dialect.encoding.name == "iso-8859-1"
    assert read_all(data)[0] == rows[1:]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_the_one_that_splits_consistently(delimiter: str) -> None:
    rows = [["a", "b; c", "d, e"], ["1", "2 | 3", "4\t5"], ["x", "y", "z"]]
    data = csv_bytes(rows, delimiter=delimiter)
    layout = detect(data, complete=True, has_header=False)
    assert layout.dialect.delimiter == delimiter
    assert read_all(data, has_header=False)[0] == rows


@pytest.mark.parametrize("block", [1, 2, 3, 5, 64 * 1024])
def test_quoted_line_breaks_survive_any_block_boundary(block: int) -> None:
    data = codecs.BOM_UTF16_LE + csv_bytes(ROWS, "utf-16-le")
    assert read_all(data, block=block)[0] == ROWS[1:]
    data = csv_bytes(ROWS, "utf-8")
    assert read_all(data, block=block)[0] == ROWS[1:]


def test_old_mac_line_breaks() -> None:
    data = csv_bytes([["First Name", "Last Name"], ["Anna", "Smith"]], newline="\r")
    assert read_all(data)[0] == [["Anna", "Smith"]]


def test_header_is_told_from_data() -> None:
    data = csv_bytes([["anna@example.org", "+49 30 1234567"], ["bob@example.org", "+49 30 7654321"]])
    layout = detect(data, complete=True)
    assert not layout.has_header
    assert layout.header == ["Column 1", "Column 2"]
    assert layout.samples[0] == ["anna@example.org", "+49 30 1234567"]


def test_reading_from_a_checkpoint_gives_the_remaining_records_with_their_lines() -> None:
    data = csv_bytes(ROWS + [["Eva", "Weber", ""]])
    layout = detect(data, complete=True)
    reader = Records([data[layout.data_start :]], layout.dialect, start=layout.data_start, first_line=2)
    first = next(reader)
    assert (first.line, first.cells[0]) == (2, "Jürgen")
    resumed = Records([data[reader.position :]], layout.dialect, start=reader.position, first_line=reader.next_line)
    assert [(r.line, r.cells[0]) for r in resumed] == [(4, "Anna"), (5, "Eva")]


# ---- nasty files ----


def test_a_broken_quote_fails_its_line_and_every_other_row_is_read() -> None:
    text = 'Name,Mail,Note\r\nAnna,a@x.de,ok\r\n"Broken,b@x.de,never closed\r\nBob,b@x.de,fine\r\nEve,e@x.de,"last"\r\n'
    cells, problems = read_all(text.encode())
    assert cells[0] == ["Anna", "a@x.de", "ok"]
    assert "never closed" in (problems[1] or "")
    assert cells[2:] == [["Bob", "b@x.de", "fine"], ["Eve", "e@x.de", "last"]]
    assert problems[2:] == [None, None]


def test_an_unclosed_quote_at_the_end_of_the_file_is_that_line_only() -> None:
    text = 'Name,Note\r\nAnna,ok\r\nBob,"open\r\nstill open\r\n'
    cells, problems = read_all(text.encode())
    assert cells[0] == ["Anna", "ok"]
    assert problems[1] is not None and "quote" in problems[1]
    assert cells[2] == ["still open"]


def test_ragged_rows_and_blank_lines() -> None:
    text = "A,B,C\r\n1,2\r\n\r\n   \r\n4,5,6,7\r\n8,9,10\r\n"
    cells, problems = read_all(text.encode())
    assert cells == [["1", "2"], ["4", "5", "6", "7"], ["8", "9", "10"]]
    assert problems == [None, None, None]


def test_a_200_kb_cell_is_read_whole() -> None:
    big = "x" * 200_000
    data = csv_bytes([["Name", "Notes"], ["Anna", big], ["Bob", "short"]])
    assert read_all(data, block=4096)[0] == [["Anna", big], ["Bob", "short"]]


def test_a_line_longer_than_the_limit_is_skipped_in_constant_memory() -> None:
    data = b"Name,Notes\r\nAnna,ok\r\nBob," + b"y" * (MAX_RECORD_BYTES + 10) + b"\r\nEve,ok\r\n"
    cells, problems = read_all(data, block=64 * 1024)
    assert cells[0] == ["Anna", "ok"] and cells[-1] == ["Eve", "ok"]
    assert len(problems) == 3 and "longer" in (problems[1] or "")


def test_a_line_in_another_encoding_is_that_rows_problem() -> None:
    data = "Name,Ort\r\nJürgen,Köln\r\n".encode() + "Groß,Öhringen\r\n".encode("cp1252") + b"Eva,Bonn\r\n"
    layout = detect(data[:27], complete=False)
    reader = Records([data[layout.data_start :]], layout.dialect, start=layout.data_start, first_line=2)
    found = list(reader)
    assert [r.problem is None for r in found] == [True, False, True]
    assert "utf-8" in (found[1].problem or "")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook"),
        (b"%PDF-1.7\n", "PDF"),
        (bytes(range(256)) * 8, "binary"),
        ("名前,会社\n山田太郎,株式会社テスト\n鈴木,東京\n".encode("shift_jis"), "encoding"),
        (b"First Name,Last Name\r\n", "header but no rows"),
        (b"\r\n\r\n  \r\n", "no rows"),
    ],
)
def test_files_that_cannot_be_imported_are_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        detect(data, complete=True)
    assert reason in refused.value.detail


def test_a_named_encoding_overrides_detection() -> None:
    data = csv_bytes([["Name"], ["Zoë"]], "latin-1")
    assert detect(data, complete=True, encoding="windows-1252").dialect.encoding.name == "windows-1252"
    with pytest.raises(ValidationFailed):
        detect(data, complete=True, encoding="klingon")


def test_lines_know_their_offsets() -> None:
    dialect = detect(b"a,b\nc,d\n", complete=True).dialect
    lines = list(read_lines([b"a,b\nc", b",d\n"], 0, 1, dialect))
    assert [(line.number, line.start, line.end, line.text) for line in lines] == [
        (1, 0, 4, "a,b\n"),
        (2, 4, 8, "c,d\n"),
    ]
    assert isinstance(dialect, Dialect)
