"""Exports in the bucket and the table (ADM-1): the adapters of domain/exports/ports.py.

The file is ``exports/t/<tenant>/exports/<job id>.zip`` (the bucket's
``exports/`` prefix expires after 7 days), written as a multipart upload
(storage/multipart.py). The checkpoint is one item beside the job's status,
``T#t#JOB#<job id>``/``EXPORT``, holding its state as JSON text (positions,
CRCs and sizes round-trip exactly), expiring with the job.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.config import get_settings
from chalicelib.storage.blobs import tenant_object_key
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.table import Table
from chalicelib.storage.multipart import PART_SIZE, MultipartWriter


class ExportStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def get(self, tenant_id: str, job_id: str) -> dict[str, Any] | None:
        item = self._table.get(keys.export_state(tenant_id, job_id), consistent=True)
        return json.loads(item["state"]) if item else None

    def save(self, tenant_id: str, job_id: str, state: dict[str, Any], expires_at: datetime) -> None:
        self._table.write_batch(
            puts=[
                {
                    **keys.export_state(tenant_id, job_id),
                    "state": json.dumps(state, separators=(",", ":"), default=str),
                    **keys.expiry_attributes(expires_at),
                }
            ]
        )


class ExportFiles:
    def __init__(self, bucket: str | None = None, part_size: int = PART_SIZE):
        self._bucket = bucket
        self._part_size = part_size

    @property
    def bucket(self) -> str:
        return self._bucket or get_settings().bucket_name

    def object_key(self, tenant_id: str, job_id: str) -> str:
        return "exports/" + tenant_object_key(tenant_id, "exports", f"{job_id}.zip")

    def writer(self, key: str, state: dict[str, Any] | None, filename: str) -> MultipartWriter:
        return MultipartWriter(
            client("s3"),
            self.bucket,
            key,
            content_type="application/zip",
            state=state,
            part_size=self._part_size,
            filename=filename,
        )

    def download_url(self, key: str, filename: str, seconds: int) -> str:
        safe = "".join(ch for ch in filename if ch.isprintable() and ch not in '"\\') or "export.zip"
        return client("s3").generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": f'attachment; filename="{safe}"'},
            ExpiresIn=seconds,
        )
