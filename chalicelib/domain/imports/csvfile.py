"""Reading real-world CSV files (IMP-4): encoding, delimiter, header, and
records with their byte positions, in constant memory.

What a file looks like is detected once, from its first bytes (``detect``):
- the encoding: a byte order mark (UTF-8, UTF-16), UTF-16 without one (its
  NUL bytes), strict UTF-8, else charset-normalizer's guess among the
  Western single-byte encodings, answered as Windows-1252 when the file uses
  its printable 0x80-0x9F characters (€ „ “ ” – …) and ISO-8859-1 otherwise
  (the two decode the rest alike). Anything else (Shift_JIS, UTF-32, a
  workbook or a PDF uploaded as CSV) is refused with a reason;
- the delimiter among ``,`` ``;`` tab and ``|``: the one that splits the
  first records into the same number of cells most consistently;
- the line break (``\\n``, ``\\r\\n`` or an old Mac's ``\\r``) and whether the
  first record is a header (no cell looks like an e-mail address, a phone
  number or a number, and the names are distinct).

Records are then read from any byte offset (``Records``), which is how an
import resumes a chunk: lines are split on the encoded line break (never
inside a UTF-16 code unit), decoded one by one (a line that does not decode
is that record's problem, not the file's), and joined while a quoted cell
is open, exactly as the csv module reads quotes (a quote opens a quoted cell
only at its start; ``""`` inside is one quote). Bad input never stops the
reading:
- a record over ``MAX_RECORD_BYTES`` or ``MAX_RECORD_LINES`` lines, or one
  whose quote is still open at the end of the file, is reported as an
  unclosed quote on its first line, and reading goes on with the line after
  it (the lines it had swallowed are read again as records of their own);
- a multi-line record whose cell count exceeds the header's is the same
  (a stray quote joined lines that were records);
- a line longer than ``MAX_RECORD_BYTES`` without a line break is reported
  and skipped without being held in memory;
- blank lines are skipped.
Every record carries its first line's number, its start and end offset, so
the caller can checkpoint after any record and report failures by line.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from chalicelib.domain.shared.errors import FieldError, ValidationFailed

DELIMITERS = (",", ";", "\t", "|")
# One record (one row of cells) may hold this much; a 200 kB note is fine,
# an unclosed quote swallowing the rest of the file is not.
MAX_RECORD_BYTES = 1024 * 1024
MAX_RECORD_LINES = 1000
SAMPLE_BYTES = 256 * 1024
SAMPLE_RECORDS = 50

csv.field_size_limit(MAX_RECORD_BYTES * 2)


@dataclass(frozen=True)
class Encoding:
    name: str  # what the API answers: utf-8, utf-8-sig, utf-16, windows-1252, iso-8859-1, ...
    codec: str  # the Python codec each line is decoded with
    bom: int = 0  # bytes of byte order mark at the start of the file
    unit: int = 1  # bytes per code unit (2 for UTF-16)


# Encodings a client may name at preview when detection guessed wrong.
NAMED: dict[str, Encoding] = {
    "utf-8": Encoding("utf-8", "utf-8"),
    "utf-8-sig": Encoding("utf-8-sig", "utf-8", bom=3),
    "utf-16-le": Encoding("utf-16-le", "utf-16-le", unit=2),
    "utf-16-be": Encoding("utf-16-be", "utf-16-be", unit=2),
    "windows-1252": Encoding("windows-1252", "cp1252"),
    "iso-8859-1": Encoding("iso-8859-1", "latin-1"),
    "iso-8859-15": Encoding("iso-8859-15", "iso8859-15"),
}
_UTF16_BOM = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
# charset-normalizer's names for the Western (Latin script) single-byte encodings.
_WESTERN = frozenset(
    {
        "cp1252",
        "cp1250",
        "cp1254",
        "cp1257",
        "latin_1",
        "iso8859_15",
        "iso8859_2",
        "iso8859_9",
        "iso8859_13",
        "iso8859_14",
        "iso8859_16",
        "mac_roman",
        "mac_latin2",
        "cp850",
        "cp437",
        "ascii",
    }
)
# Letters and punctuation a Western text puts above 0x7F in Windows-1252.
_LATIN_LETTERS = frozenset(
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ€„“”‘’‚–—…•·°§²³´µ¼½¾¿¡«»©®™ŠšŽžŒœŸƒ"
)
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xff\xfe\x00\x00", "UTF-32 text"),
    (b"\x00\x00\xfe\xff", "UTF-32 text"),
)
SAVE_AS = "Save it as CSV (UTF-8) and upload it again."


def refused(message: str, field_name: str = "file") -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field_name, message)])


def detect_encoding(sample: bytes, *, complete: bool) -> Encoding:
    """The encoding of a file from its first bytes (``complete``: the whole file)."""
    if not sample:
        raise refused("The file is empty. Upload it with the Content-Type the import answered (upload_headers).")
    for magic, what in _MAGIC:
        if sample.startswith(magic):
            raise refused(f"The file is {what}, not a CSV file. {SAVE_AS}")
    if sample.startswith(codecs.BOM_UTF8):
        return NAMED["utf-8-sig"]
    for bom, codec in _UTF16_BOM.items():
        if sample.startswith(bom):
            return Encoding("utf-16", codec, bom=2, unit=2)
    if b"\x00" in sample:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > len(odd) * 0.3 and even.count(0) < len(even) * 0.05:
            return NAMED["utf-16-le"]
        if even.count(0) > len(even) * 0.3 and odd.count(0) < len(odd) * 0.05:
            return NAMED["utf-16-be"]
        raise refused(f"The file holds binary data, not text. {SAVE_AS}")
    text = sample if complete else sample[: sample.rfind(b"\n") + 1 or len(sample)]
    try:
        text.decode("utf-8")
        return NAMED["utf-8"]
    except UnicodeDecodeError:
        pass
    return _single_byte(text)


def _single_byte(text: bytes) -> Encoding:
    import charset_normalizer  # ~50 ms: only when a file is not UTF-8

    best = charset_normalizer.from_bytes(text).best()
    decoded = text.decode("cp1252", errors="replace")
    high = [ch for ch in decoded if ord(ch) > 0x7F]
    # Western text has its few non-ASCII letters one at a time inside words ("Müller");
    # a multi-byte encoding read as Windows-1252 shows runs of symbols.
    runs = [len(run) for run in re.findall(r"[^\x00-\x7f]+", decoded)]
    plausible = (
        bool(high) and sum(ch in _LATIN_LETTERS for ch in high) >= 0.8 * len(high) and sum(runs) / len(runs) <= 1.5
    )
    if (best is not None and best.encoding in _WESTERN) or plausible:
        uses_c1 = any(0x80 <= b <= 0x9F for b in text)
        if uses_c1 and not any(b in _CP1252_UNDEFINED for b in text):
            return NAMED["windows-1252"]
        return NAMED["iso-8859-1"]
    guess = f" (it looks like {best.encoding})" if best is not None else ""
    raise refused(
        f"The file's encoding could not be recognised{guess}. Supported: UTF-8 (with or without BOM), "
        f"UTF-16, Windows-1252 and ISO-8859-1. {SAVE_AS}",
        "encoding",
    )


def newline_of(sample: bytes, encoding: Encoding) -> str:
    head = sample[encoding.bom :].decode(encoding.codec, errors="replace")
    if "\n" in head:
        return "\n"
    return "\r" if "\r" in head else "\n"


@dataclass(frozen=True)
class Dialect:
    encoding: Encoding
    delimiter: str
    newline: str = "\n"  # "\r" for old Mac files; "\r\n" files split on "\n" (csv drops the "\r")

    @property
    def newline_bytes(self) -> bytes:
        return self.newline.encode(self.encoding.codec)


# ---- lines ----


@dataclass(frozen=True)
class Line:
    number: int  # 1-based physical line number in the file
    start: int  # byte offsets in the file: [start, end)
    end: int
    text: str
    problem: str | None = None


def read_lines(blocks: Iterable[bytes], start: int, first_line: int, dialect: Dialect) -> Iterator[Line]:
    """The lines of the file from byte ``start`` (a line start), decoded one
    by one. Holds at most one line plus one block in memory."""
    newline = dialect.newline_bytes
    unit = dialect.encoding.unit
    base = dialect.encoding.bom  # code units are aligned from here
    buffer = bytearray()
    buffer_start = start  # file offset of buffer[0]
    number = first_line
    skipping = False  # inside an over-long line: drop bytes until its end
    search_from = 0
    for block in blocks:
        if not block:
            continue
        buffer += block
        while True:
            index = buffer.find(newline, search_from)
            while index >= 0 and unit > 1 and (buffer_start + index - base) % unit:
                index = buffer.find(newline, index + 1)
            if index < 0:
                if len(buffer) > MAX_RECORD_BYTES:
                    if not skipping:
                        yield Line(number, buffer_start, buffer_start + len(buffer), "", _too_long())
                        skipping = True
                    # Keep the last bytes: a line break may straddle the blocks.
                    keep = len(newline) - 1 + (len(buffer) % unit)
                    cut = len(buffer) - keep
                    buffer_start += cut
                    del buffer[:cut]
                search_from = max(0, len(buffer) - len(newline) - unit)
                break
            end = index + len(newline)
            if skipping:
                skipping = False
            else:
                yield _line(number, buffer_start, bytes(buffer[:end]), dialect)
            number += 1
            buffer_start += end
            del buffer[:end]
            search_from = 0
    if buffer and not skipping:
        yield _line(number, buffer_start, bytes(buffer), dialect)


def _too_long() -> str:
    return f"The line is longer than {MAX_RECORD_BYTES // 1024} kB; it was skipped."


def _line(number: int, start: int, raw: bytes, dialect: Dialect) -> Line:
    end = start + len(raw)
    if len(raw) > MAX_RECORD_BYTES:
        return Line(number, start, end, "", _too_long())
    try:
        return Line(number, start, end, raw.decode(dialect.encoding.codec))
    except UnicodeDecodeError as err:
        text = raw.decode(dialect.encoding.codec, errors="replace")
        return Line(
            number,
            start,
            end,
            text,
            f"The line holds bytes that are not {dialect.encoding.name} (byte {err.start + 1}); "
            "the file mixes encodings.",
        )


# ---- records ----


@dataclass
class Record:
    line: int  # the number of its first line
    start: int
    end: int
    cells: list[str] = field(default_factory=list)
    problem: str | None = None  # why it cannot be read; cells then hold what could be read
    text: str = ""  # the record as written (for the errors report when cells are unreliable)
    last_line: int = 0  # the number of its last line


_START, _UNQUOTED, _QUOTED = 0, 1, 2


def quote_state(text: str, delimiter: str, state: int = _START) -> int:
    """Where a line leaves the csv reader: inside a quoted cell or not. The
    csv module's rules: a quote opens a quoted cell only as the cell's first
    character; inside, ``""`` is a quote and a lone quote closes the cell."""
    if state != _QUOTED and '"' not in text:
        return _START
    i, n = 0, len(text)
    while i < n:
        if state == _QUOTED:
            j = text.find('"', i)
            if j < 0:
                return _QUOTED
            if j + 1 < n and text[j + 1] == '"':
                i = j + 2
                continue
            state, i = _UNQUOTED, j + 1
            continue
        if state == _START and text[i] == '"':
            state, i = _QUOTED, i + 1
            continue
        j = text.find(delimiter, i)
        if j < 0:
            return _START
        state, i = _START, j + 1
    return _QUOTED if state == _QUOTED else _START


def split_cells(text: str, dialect: Dialect) -> list[str]:
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter, strict=False))
    if not rows:
        return []
    if len(rows) > 1:  # a line break the quote scan took as a record end: keep every cell
        return [cell for row in rows for cell in row]
    return rows[0]


class Records:
    """Records from byte ``start`` of the file; ``position`` and ``next_line``
    say where the next unread record begins (the checkpoint)."""

    def __init__(
        self,
        blocks: Iterable[bytes],
        dialect: Dialect,
        *,
        start: int,
        first_line: int = 1,
        expected_cells: int | None = None,
    ):
        self._lines = read_lines(blocks, start, first_line, dialect)
        self._dialect = dialect
        self._pending: deque[Line] = deque()
        self._expected = expected_cells
        self.position = start
        self.next_line = first_line
        self.blank_lines = 0

    def _next_line(self) -> Line | None:
        if self._pending:
            return self._pending.popleft()
        return next(self._lines, None)

    def _mark(self, after: Line) -> None:
        nxt = self._pending[0] if self._pending else None
        self.position = nxt.start if nxt else after.end
        self.next_line = nxt.number if nxt else after.number + 1

    def __iter__(self) -> Iterator[Record]:
        return self

    def __next__(self) -> Record:
        while True:
            first = self._next_line()
            if first is None:
                raise StopIteration
            if first.problem is not None:
                self._mark(first)
                return Record(first.number, first.start, first.end, [], first.problem, last_line=first.number)
            if not first.text.strip():
                self.blank_lines += 1
                self._mark(first)
                continue
            return self._record(first)

    def _record(self, first: Line) -> Record:
        delimiter = self._dialect.delimiter
        lines = [first]
        state = quote_state(first.text, delimiter)
        size = first.end - first.start
        while state == _QUOTED:
            nxt = self._next_line() if size <= MAX_RECORD_BYTES and len(lines) < MAX_RECORD_LINES else None
            if nxt is None or nxt.problem is not None:
                if nxt is not None:
                    self._pending.appendleft(nxt)
                return self._unclosed(lines)
            lines.append(nxt)
            size += nxt.end - nxt.start
            state = quote_state(nxt.text, delimiter, state)
        text = "".join(line.text for line in lines)
        cells = split_cells(text, self._dialect)
        if len(lines) > 1 and self._expected is not None and self._swallowed_rows(lines, cells):
            return self._unclosed(lines)
        self._mark(lines[-1])
        return Record(first.number, first.start, lines[-1].end, cells, None, text, lines[-1].number)

    def _swallowed_rows(self, lines: list[Line], cells: list[str]) -> bool:
        """A quoted cell over several lines that looks like a stray quote: the
        record has another number of cells than the header, or most of the
        lines it joined have a row's worth of delimiters themselves."""
        expected = self._expected or 0
        if len(cells) != expected:
            return True
        joined = [line for line in lines[1:] if line.text.strip()]
        rowlike = sum(line.text.count(self._dialect.delimiter) >= expected - 1 for line in joined)
        return expected > 1 and rowlike > 0 and 2 * rowlike >= len(joined)

    def _unclosed(self, lines: list[Line]) -> Record:
        """The first line opened a quote that never closed (within the limits):
        report it, and read the lines it swallowed again as records."""
        first = lines[0]
        self._pending.extendleft(reversed(lines[1:]))
        self._mark(first)
        # Split naively: the cells as the line shows them, for the errors report.
        cells = first.text.rstrip("\r\n").split(self._dialect.delimiter)
        return Record(
            first.number,
            first.start,
            first.end,
            cells,
            "A quote opened on this line is never closed (broken quoting); the line was read on its own.",
            first.text,
            first.number,
        )


# ---- detection ----


@dataclass(frozen=True)
class Layout:
    """What ``detect`` found: how to read the file, and its first records."""

    dialect: Dialect
    has_header: bool
    header: list[str]
    width: int  # cells of the header row (of the widest sample row without one)
    data_start: int  # byte offset of the first data record
    data_line: int  # its line number
    samples: list[list[str]]  # the first data records' cells
    complete: bool  # the sample was the whole file


def _records_of(
    sample: bytes, dialect: Dialect, complete: bool, limit: int, expected: int | None = None
) -> list[Record]:
    if not complete:  # a line cut at the sample's end is not a record
        cut = sample.rfind(dialect.newline_bytes)
        sample = sample[: cut + len(dialect.newline_bytes)] if cut >= 0 else sample
    found = []
    bom = dialect.encoding.bom
    for record in Records([sample[bom:]], dialect, start=bom, expected_cells=expected):
        found.append(record)
        if len(found) >= limit:
            break
    return found


def detect_delimiter(sample: bytes, encoding: Encoding, newline: str, complete: bool) -> str:
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        records = _records_of(sample, Dialect(encoding, delimiter, newline), complete, SAMPLE_RECORDS)
        counts = [len(r.cells) for r in records if r.problem is None]
        if not counts:
            continue
        mode, seen = Counter(counts).most_common(1)[0]
        if mode <= 1:
            continue
        score = (round(seen / len(counts), 2), mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def looks_like_data(cell: str) -> bool:
    text = cell.strip()
    if not text:
        return False
    if "@" in text and "." in text.split("@")[-1]:
        return True
    digits = sum(ch.isdigit() for ch in text)
    return digits >= max(3, len(text) * 0.6)


def is_header(cells: list[str]) -> bool:
    named = [c.strip() for c in cells if c.strip()]
    if not named or any(looks_like_data(c) for c in named):
        return False
    return len({c.casefold() for c in named}) == len(named)


def detect(
    sample: bytes,
    *,
    complete: bool,
    encoding: str | None = None,
    delimiter: str | None = None,
    has_header: bool | None = None,
) -> Layout:
    """How to read the file whose first bytes are ``sample``; a client may
    name the encoding, delimiter or header when detection guessed wrong."""
    if encoding is not None:
        if encoding not in NAMED and encoding != "utf-16":
            raise refused("Unknown encoding; use one of " + ", ".join(NAMED), "encoding")
        found = detect_encoding(sample, complete=complete)
        chosen = found if encoding == "utf-16" and found.name == "utf-16" else NAMED.get(encoding)
        if chosen is None:
            raise refused("The file has no UTF-16 byte order mark; name utf-16-le or utf-16-be.", "encoding")
        if chosen.bom and not found.bom:
            chosen = NAMED["utf-8"] if chosen.name == "utf-8-sig" else chosen
    else:
        chosen = detect_encoding(sample, complete=complete)
    newline = newline_of(sample, chosen)
    if delimiter is not None and delimiter not in DELIMITERS:
        raise refused("The delimiter must be one of , ; | or a tab.", "delimiter")
    dialect = Dialect(chosen, delimiter or detect_delimiter(sample, chosen, newline, complete), newline)
    records = _records_of(sample, dialect, complete, SAMPLE_RECORDS + 1)
    readable = [r for r in records if r.problem is None]
    if not readable:
        problem = next((r.problem for r in records if r.problem), None)
        if problem:
            raise refused(f"The file could not be read: {problem}")
        raise refused("The file holds no rows (only blank lines).")
    _refuse_binary(readable)
    first = records[0]
    header_row = first.problem is None and (has_header if has_header is not None else is_header(first.cells))
    if header_row:  # with the header's width known, broken quotes are told apart from line breaks in cells
        records = _records_of(sample, dialect, complete, SAMPLE_RECORDS + 1, expected=len(first.cells))
    header = [c.strip().lstrip("\ufeff") for c in first.cells] if header_row else []
    data = records[1:] if header_row else records
    width = max([len(header)] + [len(r.cells) for r in data if r.problem is None])
    header = [h or f"Column {i + 1}" for i, h in enumerate(header + [""] * (width - len(header)))]
    if header_row and not data and complete:
        raise refused("The file has a header but no rows.")
    return Layout(
        dialect=dialect,
        has_header=header_row,
        header=header,
        width=len(first.cells) if header_row else width,
        data_start=first.end if header_row else first.start,
        data_line=first.last_line + 1 if header_row else first.line,
        samples=[r.cells for r in data if r.problem is None][:SAMPLE_RECORDS],
        complete=complete,
    )


def _refuse_binary(records: list[Record]) -> None:
    text = "".join(c for r in records[:SAMPLE_RECORDS] for c in r.cells)
    if not text:
        return
    controls = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\r\n") or ch == "\ufffd")
    if controls > max(2, len(text) * 0.02):
        raise refused(f"The file holds binary data, not text. {SAVE_AS}")
