"""A ZIP archive written as a stream, that can stop and go on in another
process (ADM-1: an export longer than one invocation).

Entries are deflated and written with a data descriptor (sizes and CRC
after the data), so nothing is ever sought back to: the bytes go straight
into a multipart upload. To stop in the middle of an entry, the compressor
is flushed with ``Z_FULL_FLUSH``: its output so far ends on a byte
boundary and later data never refers back past it, so a fresh compressor
in the next invocation simply continues the same deflate stream (the trick
parallel gzip uses). The CRC-32 continues from its value; the state to
carry is a few numbers per entry (``state``).

Sizes over 4 GiB get ZIP64 fields in the central directory and a ZIP64
end record; archives below that are plain ZIP that every unzip reads.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Callable
from typing import Any

_LOCAL = 0x04034B50
_DESCRIPTOR = 0x08074B50
_CENTRAL = 0x02014B50
_END = 0x06054B50
_END64 = 0x06064B50
_LOCATOR64 = 0x07064B50
_LIMIT = 0xFFFFFFFF
_FLAGS = 0x0808  # bit 3: sizes in a data descriptor; bit 11: UTF-8 names
_DEFLATE = 8
_LEVEL = 6


def _dos_time(moment: float) -> tuple[int, int]:
    t = time.gmtime(moment)
    return (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2), ((t.tm_year - 1980) << 9) | (
        t.tm_mon << 5
    ) | t.tm_mday


class ZipStream:
    def __init__(self, sink: Callable[[bytes], None], state: dict[str, Any] | None = None, *, now: float | None = None):
        self._sink = sink
        state = state or {}
        self.offset: int = state.get("offset", 0)
        self.entries: list[dict[str, Any]] = list(state.get("entries", []))
        self.current: dict[str, Any] | None = state.get("current")
        self._stamp: float = state.get("stamp", now if now is not None else time.time())
        self._compressor = self._new_compressor() if self.current is not None else None

    @staticmethod
    def _new_compressor() -> Any:
        return zlib.compressobj(_LEVEL, zlib.DEFLATED, -15)

    def _emit(self, data: bytes) -> None:
        if data:
            self._sink(data)
            self.offset += len(data)

    def start(self, name: str) -> None:
        if self.current is not None:
            raise RuntimeError("an entry is open")
        encoded = name.encode("utf-8")
        clock, day = _dos_time(self._stamp)
        header = struct.pack("<IHHHHHIIIHH", _LOCAL, 20, _FLAGS, _DEFLATE, clock, day, 0, 0, 0, len(encoded), 0)
        self.current = {"name": name, "offset": self.offset, "crc": 0, "size": 0, "compressed": 0}
        self._emit(header + encoded)
        self._compressor = self._new_compressor()

    def write(self, data: bytes) -> None:
        if self.current is None or self._compressor is None:
            raise RuntimeError("no entry is open")
        self.current["crc"] = zlib.crc32(data, self.current["crc"])
        self.current["size"] += len(data)
        out = self._compressor.compress(data)
        self.current["compressed"] += len(out)
        self._emit(out)

    def end(self) -> None:
        if self.current is None or self._compressor is None:
            raise RuntimeError("no entry is open")
        out = self._compressor.flush(zlib.Z_FINISH)
        self.current["compressed"] += len(out)
        self._emit(out)
        entry = self.current
        if entry["size"] > _LIMIT or entry["compressed"] > _LIMIT:
            descriptor = struct.pack("<IIQQ", _DESCRIPTOR, entry["crc"], entry["compressed"], entry["size"])
        else:
            descriptor = struct.pack("<IIII", _DESCRIPTOR, entry["crc"], entry["compressed"], entry["size"])
        self._emit(descriptor)
        self.entries.append(entry)
        self.current, self._compressor = None, None

    def state(self) -> dict[str, Any]:
        """Where to go on from, in another process: flushes the open entry's compressor."""
        if self.current is not None and self._compressor is not None:
            out = self._compressor.flush(zlib.Z_FULL_FLUSH)
            self.current["compressed"] += len(out)
            self._emit(out)
            self._compressor = self._new_compressor()
        return {
            "offset": self.offset,
            "entries": [dict(e) for e in self.entries],
            "current": dict(self.current) if self.current else None,
            "stamp": self._stamp,
        }

    def close(self) -> None:
        if self.current is not None:
            self.end()
        start = self.offset
        clock, day = _dos_time(self._stamp)
        for entry in self.entries:
            encoded = entry["name"].encode("utf-8")
            big = [v for v in (entry["size"], entry["compressed"], entry["offset"]) if v > _LIMIT]
            extra = b""
            if big:
                values = [v for v in (entry["size"], entry["compressed"], entry["offset"]) if v > _LIMIT]
                extra = struct.pack("<HH", 1, 8 * len(values)) + b"".join(struct.pack("<Q", v) for v in values)
            record = struct.pack(
                "<IHHHHHHIIIHHHHHII",
                _CENTRAL,
                45 if big else 20,
                45 if big else 20,
                _FLAGS,
                _DEFLATE,
                clock,
                day,
                entry["crc"],
                min(entry["compressed"], _LIMIT),
                min(entry["size"], _LIMIT),
                len(encoded),
                len(extra),
                0,
                0,
                0,
                0o100644 << 16,
                min(entry["offset"], _LIMIT),
            )
            self._emit(record + encoded + extra)
        size = self.offset - start
        count = len(self.entries)
        if start > _LIMIT or size > _LIMIT or count > 0xFFFF:
            end64 = self.offset
            self._emit(struct.pack("<IQHHIIQQQQ", _END64, 44, 45, 45, 0, 0, count, count, size, start))
            self._emit(struct.pack("<IIQI", _LOCATOR64, 0, end64, 1))
        self._emit(
            struct.pack(
                "<IHHHHIIH",
                _END,
                0,
                0,
                min(count, 0xFFFF),
                min(count, 0xFFFF),
                min(size, _LIMIT),
                min(start, _LIMIT),
                0,
            )
        )
