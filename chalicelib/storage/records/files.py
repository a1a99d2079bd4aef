"""File records in their parent's item collection, bytes in S3.

A file item is ``pk=T#t#<KIND>#<parent id>``, ``sk=FILE#<id>`` (one Query
lists a record's files; a consistent GetItem checks that a file belongs to
the record an event is added to), found by id alone through GSI1. The object
key is ``t/<tenant>/files/<id>``: it does not name the parent, so moving a
file to another record (merge) never touches S3.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.records.files import ObjectInfo, ParentLink, StoredFile
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.blobs import BlobStore, tenant_object_key
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import SortKey, Table
from chalicelib.storage.dynamo.table_spec import GSI1


def object_key(tenant_id: str, file_id: str) -> str:
    return tenant_object_key(tenant_id, "files", file_id)


def file_item(file: StoredFile) -> dict[str, Any]:
    return {
        **file.model_dump(mode="json"),
        **keys.file(file.tenant_id, file.parent.kind, file.parent.id, file.id),
        **keys.file_indexes(file.tenant_id, file.id),
    }


def _file(item: Mapping[str, Any]) -> StoredFile:
    return StoredFile.model_validate(item)


class FileStore:
    def __init__(self, table: Table | None = None, blobs: BlobStore | None = None):
        self._table = table or Table()
        self._blobs = blobs or BlobStore()

    # ---- records ----

    def add_file(self, file: StoredFile) -> None:
        self._table.create(file_item(file))

    def find_file(self, tenant_id: str, file_id: str) -> StoredFile | None:
        found = self._table.query(keys.file_by_id(tenant_id, file_id), index=GSI1, page=PageRequest(limit=1))
        return _file(found.items[0]) if found.items else None

    def parent_files(self, tenant_id: str, parent: ParentLink, file_ids: list[str]) -> list[StoredFile]:
        """Those of the ids that are files of this parent (consistent reads:
        a file is attached right after it was created)."""
        found = []
        for file_id in file_ids:
            item = self._table.get(keys.file(tenant_id, parent.kind, parent.id, file_id), consistent=True)
            if item is not None:
                found.append(_file(item))
        return found

    def list_files(self, tenant_id: str, parent: ParentLink, page: PageRequest) -> Slice[StoredFile]:
        found = self._table.query(
            keys.parent_partition(tenant_id, parent.kind, parent.id),
            sort=SortKey.begins_with(keys.FILE_PREFIX),
            page=page,
            newest_first=True,
        )
        return Slice([_file(i) for i in found.items], found.after)

    def mark_uploaded(self, file: StoredFile, size: int, at: datetime) -> StoredFile:
        item = self._table.update(
            keys.file(file.tenant_id, file.parent.kind, file.parent.id, file.id),
            set={"status": "uploaded", "size": size, "problem": None, "updated_at": iso(at)},
        )
        return _file(item)

    def mark_problem(self, file: StoredFile, problem: str, at: datetime) -> StoredFile:
        item = self._table.update(
            keys.file(file.tenant_id, file.parent.kind, file.parent.id, file.id),
            set={"problem": problem, "updated_at": iso(at)},
        )
        return _file(item)

    # ---- objects ----

    def object_info(self, tenant_id: str, file_id: str) -> ObjectInfo | None:
        found = self._blobs.head(object_key(tenant_id, file_id))
        return ObjectInfo(size=found[0], content_type=found[1]) if found else None

    def discard_object(self, tenant_id: str, file_id: str) -> None:
        self._blobs.delete(object_key(tenant_id, file_id))

    def upload_url(self, tenant_id: str, file_id: str, content_type: str, seconds: int) -> str:
        return self._blobs.upload_url(object_key(tenant_id, file_id), content_type, seconds=seconds)

    def download_url(self, tenant_id: str, file_id: str, filename: str, seconds: int) -> str:
        return self._blobs.download_url(object_key(tenant_id, file_id), seconds=seconds, filename=filename)
