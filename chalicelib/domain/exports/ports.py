"""What the export needs from storage (storage/exports.py; in-memory twins in
storage/memory/exports.py). Sources of rows are the features' services
(domain/exports/sources.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class ObjectWriter(Protocol):
    """One object written in order, resumable across invocations (S3 multipart)."""

    written: int

    def write(self, data: bytes) -> None: ...

    def suspend(self) -> dict[str, Any]:
        """Park what is held; answer the (small) state to resume from."""
        ...

    def close(self) -> int: ...


class ExportFiles(Protocol):
    def object_key(self, tenant_id: str, job_id: str) -> str: ...

    def writer(self, key: str, state: dict[str, Any] | None, filename: str) -> ObjectWriter: ...

    def download_url(self, key: str, filename: str, seconds: int) -> str: ...


class ExportStore(Protocol):
    """The export's checkpoint, beside its background job."""

    def get(self, tenant_id: str, job_id: str) -> dict[str, Any] | None: ...

    def save(self, tenant_id: str, job_id: str, state: dict[str, Any], expires_at: datetime) -> None: ...
