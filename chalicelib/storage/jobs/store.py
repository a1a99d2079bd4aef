"""Background job status in the single table (see domain/jobs/service.py).

One item collection per job (``T#t#JOB#<id>``):
- ``META``: kind, creator, total, number of chunks and the counters
  ``chunks_done``, ``succeeded``, ``failed`` (atomic ADDs), ``started_at``,
  ``finished_at``;
- ``CHUNK#<nnnnn>``: a finished chunk and its failures; put under
  ``attribute_not_exists`` in the same transaction as the counter ADDs, so a
  chunk is counted once however often it is delivered;
- ``PROGRESS#<nnnnn>``: the items of a chunk done so far (one attribute
  ``item#<key>`` each), so a redelivered half-done chunk resumes.
Every item expires (TTL plus the housekeeping schedule) 30 days after the job
was made.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.jobs.service import BackgroundJob, Failure
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.errors import Conflict
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors, error_code
from chalicelib.storage.dynamo.table import Put, SortKey, Table, Update, serialize

_ITEM = "item#"
_DONE = "done"


class ChunkAlreadyCounted(Conflict):
    """The chunk's completion marker exists: a redelivery, nothing to add."""


def _plain(value: Any) -> Any:
    """DynamoDB numbers back to int/float; maps and lists recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class BackgroundJobStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def create(self, job: BackgroundJob, expires_at: datetime) -> None:
        self._table.create(
            {
                **job.model_dump(mode="json", exclude_none=True),
                **keys.background_job(job.tenant_id, job.id),
                **keys.expiry_attributes(expires_at),
            }
        )

    def get(self, tenant_id: str, job_id: str) -> BackgroundJob | None:
        item = self._table.get(keys.background_job(tenant_id, job_id), consistent=True)
        return BackgroundJob.model_validate(_plain(item)) if item else None

    def mark_started(self, tenant_id: str, job_id: str, at: datetime) -> None:
        self._conditional_update(
            keys.background_job(tenant_id, job_id),
            "SET started_at = if_not_exists(started_at, :at)",
            "attribute_exists(pk)",
            {":at": iso(at)},
        )

    def chunk_finished(self, tenant_id: str, job_id: str, chunk: int) -> bool:
        return self._table.get(keys.background_job_chunk(tenant_id, job_id, chunk), consistent=True) is not None

    def chunk_progress(self, tenant_id: str, job_id: str, chunk: int) -> set[str]:
        """The keys of the chunk's items done so far."""
        item = self._table.get(keys.background_job_progress(tenant_id, job_id, chunk), consistent=True) or {}
        return {name[len(_ITEM) :] for name in item if name.startswith(_ITEM)}

    def record_success(self, tenant_id: str, job_id: str, chunk: int, key: str, expires_at: datetime) -> None:
        self._table.update(
            keys.background_job_progress(tenant_id, job_id, chunk),
            set={f"{_ITEM}{key}": _DONE, **keys.expiry_attributes(expires_at)},
            bump_version=False,
            must_exist=False,
        )

    def finish_chunk(
        self,
        tenant_id: str,
        job_id: str,
        chunk: int,
        *,
        succeeded: int,
        failures: list[Failure],
        at: datetime,
        expires_at: datetime,
    ) -> bool:
        """Count the chunk once; False when it had been counted before."""
        marker = {
            **keys.background_job_chunk(tenant_id, job_id, chunk),
            "chunk": chunk,
            "succeeded": succeeded,
            "failed": len(failures),
            "failures": failures,
            "finished_at": iso(at),
            **keys.expiry_attributes(expires_at),
        }
        try:
            self._table.transact(
                [
                    Put(marker, on_conflict=ChunkAlreadyCounted("The chunk was counted before.")),
                    Update(
                        keys.background_job(tenant_id, job_id),
                        bump_version=False,
                        add={"chunks_done": 1, "succeeded": succeeded, "failed": len(failures)},
                    ),
                ]
            )
        except ChunkAlreadyCounted:
            return False
        return True

    def finish_job(self, tenant_id: str, job_id: str, at: datetime) -> None:
        """Stamp ``finished_at`` once every chunk is counted (no-op before, and after)."""
        self._conditional_update(
            keys.background_job(tenant_id, job_id),
            "SET finished_at = :at",
            "chunks_done >= chunks AND attribute_not_exists(finished_at)",
            {":at": iso(at)},
        )

    def failures(self, tenant_id: str, job_id: str, limit: int) -> list[Failure]:
        """The first ``limit`` failures, in chunk order."""
        found: list[Failure] = []
        partition = keys.background_job(tenant_id, job_id)["pk"]
        after = None
        while len(found) < limit:
            page = self._table.query(
                partition,
                sort=SortKey.begins_with(keys.JOB_CHUNK_PREFIX),
                page=PageRequest(limit=20, after=after),
                consistent=True,
            )
            for item in page.items:
                found += _plain(item.get("failures") or [])
            if page.after is None:
                break
            after = page.after
        return found[:limit]

    def set_result(self, tenant_id: str, job_id: str, result: dict[str, Any]) -> None:
        self._table.update(keys.background_job(tenant_id, job_id), set={"result": result}, bump_version=False)

    def _conditional_update(self, key: dict[str, str], expression: str, condition: str, values: dict[str, Any]) -> bool:
        """An update whose condition may fail by design (False then)."""
        try:
            client("dynamodb").update_item(
                TableName=self._table.name,
                Key=serialize(key),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=serialize(values),
            )
        except ClientError as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            with aws_errors():
                raise
        return True
