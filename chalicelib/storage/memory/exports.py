"""In-memory twins of domain/exports/ports.py."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any


class MemoryObjectWriter:
    def __init__(self, files: "MemoryExportFiles", key: str, state: dict[str, Any] | None):
        self._files = files
        self._key = key
        self.written = int((state or {}).get("written", 0))
        # What was written before the state was taken is what counts: later bytes are replaced.
        self._files.objects[key] = bytearray(self._files.parked.get(key, b"")[: self.written])

    def write(self, data: bytes) -> None:
        self._files.objects[self._key] += data
        self.written += len(data)
        self._files.peak_buffer = max(self._files.peak_buffer, len(data))

    def suspend(self) -> dict[str, Any]:
        self._files.parked[self._key] = bytes(self._files.objects[self._key])
        return {"written": self.written}

    def close(self) -> int:
        self._files.closed[self._key] = bytes(self._files.objects.pop(self._key))
        return self.written


class MemoryExportFiles:
    def __init__(self) -> None:
        self.objects: dict[str, bytearray] = {}
        self.parked: dict[str, bytes] = {}
        self.closed: dict[str, bytes] = {}
        self.peak_buffer = 0

    def object_key(self, tenant_id: str, job_id: str) -> str:
        return f"exports/t/{tenant_id}/exports/{job_id}.zip"

    def writer(self, key: str, state: dict[str, Any] | None, filename: str) -> MemoryObjectWriter:
        return MemoryObjectWriter(self, key, state)

    def download_url(self, key: str, filename: str, seconds: int) -> str:
        return f"memory://{key}?filename={filename}"


class MemoryExportStore:
    def __init__(self) -> None:
        self.states: dict[tuple[str, str], str] = {}

    def get(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        found = self.states.get((tenant_id, job_id))
        return json.loads(found) if found else None

    def save(self, tenant_id: str, job_id: str, state: dict[str, Any], expires_at: datetime) -> None:
        self.states[(tenant_id, job_id)] = json.dumps(copy.deepcopy(state), default=str)
