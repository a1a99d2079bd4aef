"""GDPR export and erasure (issue 18): the job records, the export ZIPs, and
the table and bucket operations the per-feature erasers and exporters of
bootstrap/gdpr.py need that the features' own stores do not offer.

Objects are removed with *every version* (the bucket is versioned on AWS, so a
plain delete would keep the person's files for 30 more days as noncurrent
versions). Export ZIPs live under ``exports/t/<tenant>/gdpr/<contact>/``: the
lifecycle rule of ``exports/`` removes them after 7 days, and erasure removes
them at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from chalicelib.domain.gdpr.service import GdprJob, GdprStatus
from chalicelib.domain.records.changelog import ChangeAction, ChangeEntry
from chalicelib.domain.shared.access import ContactAccess
from chalicelib.domain.shared.clock import iso, new_id
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.storage.blobs import BlobStore, tenant_object_key
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors
from chalicelib.storage.dynamo.indexed_store import IndexedStore
from chalicelib.storage.dynamo.table import SortKey, Table
from chalicelib.storage.records.changelog import change_entry_op


def gdpr_job_key(tenant_id: str, job_id: str) -> dict[str, str]:
    return keys.gdpr_job(tenant_id, job_id)


class DynamoGdprJobs:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def create(self, job: GdprJob) -> None:
        self._table.create({**job.model_dump(mode="json", exclude_none=True), **gdpr_job_key(job.tenant_id, job.id)})

    def get(self, tenant_id: str, job_id: str) -> GdprJob | None:
        item = self._table.get(gdpr_job_key(tenant_id, job_id), consistent=True)
        return GdprJob.model_validate({**item, "steps_done": sorted(item.get("steps", set()))}) if item else None

    def step_done(self, tenant_id: str, job_id: str, step: str, at: datetime) -> None:
        self._table.update(
            gdpr_job_key(tenant_id, job_id),
            set={"status": GdprStatus.RUNNING.value, "updated_at": iso(at)},
            add={"steps": {step}},  # type: ignore[dict-item]  # a string set gains a member
            bump_version=False,
        )

    def finish(self, tenant_id: str, job_id: str, at: datetime, result_key: str | None) -> None:
        self._table.update(
            gdpr_job_key(tenant_id, job_id),
            set={"status": GdprStatus.DONE.value, "finished_at": iso(at), "result_key": result_key},
            bump_version=False,
        )


def purge_objects(prefix: str, blobs: BlobStore | None = None) -> int:
    """Delete every version of every object under ``prefix`` (a key is its own prefix)."""
    store = blobs or BlobStore()
    s3 = client("s3")
    deleted = 0
    with aws_errors():
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=store.bucket, Prefix=prefix):
            versions = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(versions), 1000):
                s3.delete_objects(
                    Bucket=store.bucket, Delete={"Objects": versions[start : start + 1000], "Quiet": True}
                )
            deleted += len(versions)
    return deleted


class S3ExportFiles:
    def __init__(self, blobs: BlobStore | None = None):
        self._blobs = blobs or BlobStore()

    @staticmethod
    def prefix(tenant_id: str, contact_id: str) -> str:
        return "exports/" + tenant_object_key(tenant_id, "gdpr", contact_id) + "/"

    def put(self, tenant_id: str, contact_id: str, job_id: str, data: bytes) -> str:
        key = f"{self.prefix(tenant_id, contact_id)}{job_id}.zip"
        self._blobs.put(key, data, "application/zip")
        return key

    def download_url(self, key: str, seconds: int) -> str:
        return self._blobs.download_url(key, seconds=seconds, filename="personal-data.zip")

    def get(self, key: str) -> bytes:
        return self._blobs.get(key)[0]

    def purge(self, tenant_id: str, contact_id: str) -> int:
        return purge_objects(self.prefix(tenant_id, contact_id), self._blobs)


class ContactsExist:
    def __init__(self, contact_store: Any):
        self._store = contact_store

    def access(self, tenant_id: str, contact_id: str) -> ContactAccess | None:
        contact = self._store.get(tenant_id, contact_id)
        return contact.access_record() if contact is not None else None


# ---- what the erasers and exporters share ----


def linked(store: IndexedStore[Any], tenant_id: str, facet: str) -> list[Any]:
    """The records of an indexed store's facet (a contact's deals, cases, tasks, calls)."""
    ids = list(dict.fromkeys(str(e[store.entry_id]) for e in store.entries(tenant_id, facet)))
    return store.get_many(tenant_id, ids, consistent=True) if ids else []


def partition_items(partition: str, prefix: str, table: Table | None = None) -> list[dict[str, Any]]:
    table = table or Table()
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = table.query(partition, sort=SortKey.begins_with(prefix), page=PageRequest(limit=200, after=after))
        found += page.items
        if page.after is None:
            return found
        after = page.after


def change_log_items(tenant_id: str, entity: str, record_id: str) -> list[dict[str, Any]]:
    return partition_items(keys.change_log(tenant_id, entity, record_id), keys.CHANGE_PREFIX)


def purge_change_log(tenant_id: str, entity: str, record_id: str, *, erased_by: str | None, at: datetime) -> int:
    """Every entry of a record's change log goes; with ``erased_by``, one entry
    stays that says the record was erased, when and by whom, and nothing else."""
    table = Table()
    items = change_log_items(tenant_id, entity, record_id)
    kept = [i for i in items if i.get("action") == ChangeAction.ERASED.value]
    table.write_batch(deletes=[{"pk": i["pk"], "sk": i["sk"]} for i in items if i not in kept])
    if erased_by is not None and not kept:
        entry = ChangeEntry(
            id=new_id(),
            entity=entity,
            record_id=record_id,
            action=ChangeAction.ERASED,
            changes=[],
            at=at,
            by=erased_by,
            created_at=at,
            created_by=erased_by,
            updated_at=at,
            updated_by=erased_by,
        )
        table.write_batch(puts=[change_entry_op(tenant_id, entry).item])
    return len(items) - len(kept)


def purge_notifications(tenant_id: str, user_ids: Iterable[str], links: set[str]) -> int:
    """Notifications that point at an erased record (their subjects name it)."""
    table = Table()
    gone = []
    for user_id in user_ids:
        partition = keys.user(tenant_id, user_id)["pk"]
        gone += [i for i in partition_items(partition, keys.NOTIFICATION_PREFIX, table) if i.get("link") in links]
    table.write_batch(deletes=[{"pk": i["pk"], "sk": i["sk"]} for i in gone])
    return len(gone)


def delete_items(items: Iterable[dict[str, Any]]) -> None:
    Table().write_batch(deletes=[{"pk": i["pk"], "sk": i["sk"]} for i in items])
