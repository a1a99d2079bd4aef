"""Imports in the table and the bucket (IMP-2..4): the adapters of
domain/imports/ports.py.

Items (keys.py): the import record ``T#t#IMPORT#<id>``/``META``, a marker
per written row (``ROW#<byte offset>``, put in the row's record
transaction), a dry run's seen keys (``SEEN#...``), and the references from
a source system's ids to records (``T#t#EXTID#...``). The record and its
markers expire 30 days after the import was made.

Objects: the upload ``uploads/t/<tenant>/imports/<id>.csv`` (the bucket's
``uploads/`` prefix expires after a day), one errors part per chunk with
failed rows under ``uploads/.../<id>.errors/``, and the joined report
``exports/t/<tenant>/imports/<id>-errors.csv``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.config import get_settings
from chalicelib.domain.imports.models import (
    OUTCOMES,
    Counts,
    Detection,
    Import,
    ImportOutcome,
    ImportStatus,
    StartImport,
)
from chalicelib.domain.records.history import HistoryEvent
from chalicelib.domain.shared.clock import iso, utc_now
from chalicelib.domain.shared.errors import Conflict, NotFound
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.text import fold, words
from chalicelib.storage.blobs import tenant_object_key
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors, error_code
from chalicelib.storage.dynamo.table import Put, SortKey, Table, deserialize, serialize
from chalicelib.storage.indexes.contacts import email_facet
from chalicelib.storage.multipart import PART_SIZE, MultipartWriter
from chalicelib.storage.records.history import event_op

BLOCK_BYTES = 256 * 1024


def plain(value: Any) -> Any:
    """DynamoDB numbers back to int/float; maps and lists recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _record(item: dict[str, Any]) -> Import:
    return Import.model_validate(plain(item))


class ImportStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def create(self, record: Import, expires_at: datetime) -> None:
        self._table.create(
            {
                **record.model_dump(mode="json", exclude_none=True),
                **keys.import_record(record.tenant_id, record.id),
                **keys.expiry_attributes(expires_at),
            }
        )

    def get(self, tenant_id: str, import_id: str) -> Import | None:
        item = self._table.get(keys.import_record(tenant_id, import_id), consistent=True)
        return _record(item) if item else None

    def _update(
        self, key: dict[str, str], expression: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> Import | None:
        """An update whose condition may fail by design (None then)."""
        # Every attribute is written as ``#name`` (DynamoDB reserves size, line, status, ...).
        import re

        names = {**{f"#{n}": n for n in re.findall(r"#(\w+)", expression + " " + condition)}, **names}
        params: dict[str, Any] = {
            "TableName": self._table.name,
            "Key": serialize(key),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": serialize(values),
            "ReturnValues": "ALL_NEW",
            "ExpressionAttributeNames": names,
        }
        try:
            answer = client("dynamodb").update_item(**params)
        except ClientError as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return None
            with aws_errors():
                raise
        return _record(deserialize(answer["Attributes"]))

    def save_detection(self, record: Import, detection: Detection) -> Import:
        updated = self._update(
            keys.import_record(record.tenant_id, record.id),
            "SET #detection = :d, #version = #version + :one",
            "#status = :created",
            {},
            {":d": detection.model_dump(mode="json"), ":created": "created", ":one": 1},
        )
        if updated is None:
            raise Conflict("The import was started meanwhile.")
        return updated

    def start(self, record: Import, options: StartImport, detection: Detection, size: int, at: datetime) -> Import:
        updated = self._update(
            keys.import_record(record.tenant_id, record.id),
            "SET #status = :queued, #options = :o, #detection = :d, #size = :size, #offset = :offset, "
            "#line = :line, #started_at = :at, #updated_at = :at, #version = #version + :one",
            "#status = :created",
            {},
            {
                ":queued": ImportStatus.QUEUED.value,
                ":created": ImportStatus.CREATED.value,
                ":o": options.model_dump(mode="json", exclude_none=True),
                ":d": detection.model_dump(mode="json"),
                ":size": size,
                ":offset": detection.data_start,
                ":line": detection.data_line,
                ":at": iso(at),
                ":one": 1,
            },
        )
        if updated is None:
            raise Conflict("The import was started or cancelled meanwhile.")
        return updated

    def mark_running(self, tenant_id: str, import_id: str, at: datetime) -> None:
        self._update(
            keys.import_record(tenant_id, import_id),
            "SET #status = :running, #updated_at = :at",
            "#status = :queued",
            {},
            {":running": ImportStatus.RUNNING.value, ":queued": ImportStatus.QUEUED.value, ":at": iso(at)},
        )

    def checkpoint(
        self,
        record: Import,
        *,
        offset: int,
        line: int,
        rows: int,
        counts: Counts,
        error_rows: int,
        managed: dict[str, int],
        eof: bool,
    ) -> Import | None:
        # Only the holder of chunk number ``seq`` writes these: totals are computed
        # from the record as that chunk read it, under the condition that it still is.
        total = record.counts.add(counts)
        merged = dict(record.managed)
        for user_id, count in managed.items():
            merged[user_id] = merged.get(user_id, 0) + count
        return self._update(
            keys.import_record(record.tenant_id, record.id),
            "SET #seq = :next, #offset = :offset, #line = :line, #rows = :rows, #counts = :counts, "
            "#error_rows = :errors, #managed = :managed, #updated_at = :now",
            "#seq = :seq",
            {},
            {
                ":next": record.seq + 1,
                ":seq": record.seq,
                ":offset": offset,
                ":line": line,
                ":rows": record.rows + rows,
                ":counts": total.model_dump(),
                ":errors": record.error_rows + error_rows,
                ":managed": merged,
                ":now": iso(utc_now()),
            },
        )

    def mark_enqueued(self, tenant_id: str, import_id: str, seq: int) -> None:
        self._update(
            keys.import_record(tenant_id, import_id),
            "SET #enqueued_seq = :seq",
            "attribute_exists(#pk) AND #enqueued_seq < :seq",
            {},
            {":seq": seq},
        )

    def claim(self, tenant_id: str, import_id: str, seq: int) -> bool:
        try:
            answer = client("dynamodb").update_item(
                TableName=self._table.name,
                Key=serialize(keys.import_record(tenant_id, import_id)),
                UpdateExpression="SET #claimed = :seq",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#claimed": "claimed_seq", "#pk": "pk"},
                ExpressionAttributeValues=serialize({":seq": seq}),
                ReturnValues="ALL_OLD",  # (moto answers nothing for UPDATED_OLD when the value stays)
            )
        except ClientError as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            with aws_errors():
                raise
        old = deserialize(answer.get("Attributes") or {}).get("claimed_seq")
        return old is not None and int(old) == seq

    def set_status(
        self,
        tenant_id: str,
        import_id: str,
        status: ImportStatus,
        at: datetime,
        *,
        only_from: tuple[ImportStatus, ...],
        failure: str | None = None,
    ) -> Import | None:
        values: dict[str, Any] = {":status": status.value, ":at": iso(at), ":one": 1}
        allowed = []
        for i, state in enumerate(only_from):
            values[f":from{i}"] = state.value
            allowed.append(f":from{i}")
        expression = "SET #status = :status, #updated_at = :at, #version = #version + :one"
        if failure is not None:
            expression += ", #failure = :failure"
            values[":failure"] = failure
        return self._update(
            keys.import_record(tenant_id, import_id),
            expression,
            f"#status IN ({', '.join(allowed)})",
            {},
            values,
        )

    def save_assembly(self, tenant_id: str, import_id: str, state: dict[str, Any]) -> None:
        self._table.update(keys.import_record(tenant_id, import_id), set={"errors_assembly": state}, bump_version=False)

    def finish(self, tenant_id: str, import_id: str, at: datetime) -> Import:
        """One write ends the import: outcome, finished_at and errors_ready
        together, conditioned on no outcome yet (a redelivered finish changes nothing)."""
        key = keys.import_record(tenant_id, import_id)
        common = (
            "SET #outcome = :outcome, #errors_ready = :true, #finished_at = :at, #updated_at = :at, "
            "#version = #version + :one"
        )
        values = {":at": iso(at), ":true": True, ":one": 1}
        done = self._update(
            key,
            common + ", #status = :done REMOVE #errors_assembly",
            "#status IN (:queued, :running) AND attribute_not_exists(#outcome)",
            {},
            {
                **values,
                ":outcome": ImportOutcome.FINISHED.value,
                ":done": ImportStatus.DONE.value,
                ":queued": ImportStatus.QUEUED.value,
                ":running": ImportStatus.RUNNING.value,
            },
        )
        if done is not None:
            return done
        # Cancelled or failed: the status stays; the outcome says so.
        for status in (ImportStatus.CANCELLED, ImportStatus.FAILED):
            other = self._update(
                key,
                common + " REMOVE #errors_assembly",
                "#status = :status AND attribute_not_exists(#outcome)",
                {},
                {**values, ":outcome": OUTCOMES[status].value, ":status": status.value},
            )
            if other is not None:
                return other
        current = self.get(tenant_id, import_id)
        if current is None:
            raise NotFound("The import does not exist.")
        return current  # finished before: the first finish stands

    # ---- rows ----

    def done_rows(self, tenant_id: str, import_id: str, start: int, end: int) -> dict[int, tuple[str, str]]:
        low = keys.import_row(tenant_id, import_id, start)
        high = keys.import_row(tenant_id, import_id, end)
        found: dict[int, tuple[str, str]] = {}
        after = None
        while True:
            page = self._table.query(
                low["pk"],
                sort=SortKey.between(low["sk"], high["sk"]),
                page=PageRequest(limit=1000, after=after),
                consistent=True,
            )
            for item in page.items:
                found[int(item["sk"][len(keys.IMPORT_ROW_PREFIX) :])] = (item["outcome"], item["record_id"])
            if page.after is None:
                return found
            after = page.after

    def row_marker_op(
        self, tenant_id: str, import_id: str, offset: int, outcome: str, record_id: str, expires_at: datetime
    ) -> Any:
        return Put(
            {
                **keys.import_row(tenant_id, import_id, offset),
                "outcome": outcome,
                "record_id": record_id,
                "ttl": keys.expiry_attributes(expires_at)["ttl"],
            },
            on_conflict=Conflict("The row was imported before."),
        )

    def history_op(self, event: HistoryEvent) -> Any:
        return event_op(event)

    def write_ops(self, ops: list[Any]) -> None:
        self._table.transact(ops)

    def seen(self, tenant_id: str, import_id: str, keys_: list[str]) -> dict[str, tuple[int, str]]:
        wanted = {keys.import_seen(tenant_id, import_id, k)["sk"]: k for k in keys_}
        found = self._table.get_many(keys.import_seen(tenant_id, import_id, k) for k in keys_)
        return {wanted[i["sk"]]: (int(i["offset"]), i["record_id"]) for i in found if i["sk"] in wanted}

    def remember(
        self, tenant_id: str, import_id: str, entries: dict[str, tuple[int, str]], expires_at: datetime
    ) -> None:
        ttl = keys.expiry_attributes(expires_at)["ttl"]
        self._table.write_batch(
            puts=[
                {**keys.import_seen(tenant_id, import_id, k), "offset": offset, "record_id": record_id, "ttl": ttl}
                for k, (offset, record_id) in entries.items()
            ]
        )

    def external_ref(self, tenant_id: str, entity: str, external_id: str) -> str | None:
        item = self._table.get(keys.external_ref(tenant_id, entity, external_id), consistent=True)
        return item["record_id"] if item else None

    def external_ref_op(self, tenant_id: str, entity: str, external_id: str, record_id: str) -> Any:
        return Put(
            {**keys.external_ref(tenant_id, entity, external_id), "record_id": record_id, "external_id": external_id},
            must_not_exist=False,
        )


class ContactIndex:
    """The contacts' own index entries (storage/contacts/store.py), read for matching."""

    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def _entries(self, partition: str, sort: SortKey | None = None) -> list[dict[str, Any]]:
        found, after = [], None
        while True:
            page = self._table.query(partition, sort=sort, page=PageRequest(limit=200, after=after), consistent=True)
            found += page.items
            if page.after is None or len(found) >= 1000:
                return found
            after = page.after

    def by_email(self, tenant_id: str, email: str) -> list[dict[str, Any]]:
        """The exact address's entries (``mail#``): one small partition, not the word prefix's."""
        return self._entries(keys.contact_facet(tenant_id, email_facet(email))) if email.strip() else []

    def by_phone(self, tenant_id: str, e164: str) -> list[dict[str, Any]]:
        return self._entries(keys.contact_facet(tenant_id, f"tel#{e164}"))

    def companies_named(self, tenant_id: str, name: str) -> list[dict[str, Any]]:
        if not words(name):
            return []
        return self._entries(
            keys.contact_facet(tenant_id, "kind#company"), SortKey.begins_with(keys.contact_by_name(fold(name), ""))
        )

    def named(self, tenant_id: str, kind: str, name_key: str) -> list[dict[str, Any]]:
        if not name_key.strip():
            return []
        return self._entries(
            keys.contact_facet(tenant_id, f"kind#{kind}"), SortKey.begins_with(keys.contact_by_name(name_key, ""))
        )


def upload_key(tenant_id: str, import_id: str) -> str:
    return "uploads/" + tenant_object_key(tenant_id, "imports", f"{import_id}.csv")


def errors_part_prefix(tenant_id: str, import_id: str) -> str:
    return "uploads/" + tenant_object_key(tenant_id, "imports", f"{import_id}.errors") + "/"


def errors_key(tenant_id: str, import_id: str) -> str:
    return "exports/" + tenant_object_key(tenant_id, "imports", f"{import_id}-errors.csv")


class ImportFiles:
    def __init__(self, bucket: str | None = None, part_size: int | None = None):
        self._bucket = bucket
        self._part_size = part_size

    @property
    def bucket(self) -> str:
        return self._bucket or get_settings().bucket_name

    @property
    def _s3(self) -> Any:
        return client("s3")

    def upload_url(self, tenant_id: str, import_id: str, content_type: str, seconds: int) -> str:
        return self._s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": upload_key(tenant_id, import_id), "ContentType": content_type},
            ExpiresIn=seconds,
        )

    def size(self, tenant_id: str, import_id: str) -> int | None:
        try:
            answer = self._s3.head_object(Bucket=self.bucket, Key=upload_key(tenant_id, import_id))
        except ClientError as err:
            if error_code(err) in ("404", "NoSuchKey", "NotFound"):
                return None
            with aws_errors():
                raise
        return int(answer.get("ContentLength", 0))

    def _get(self, key: str, start: int, end: int | None = None) -> Any | None:
        """The body of a ranged GET, None past the end (or when gone)."""
        byte_range = f"bytes={start}-" + ("" if end is None else str(end))
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=key, Range=byte_range)["Body"]
        except ClientError as err:
            if error_code(err) in ("InvalidRange", "416"):
                return None
            if error_code(err) in ("NoSuchKey", "404"):
                raise NotFound("The uploaded file is gone (uploads are kept for a day).") from err
            with aws_errors():
                raise

    def head(self, tenant_id: str, import_id: str, count: int) -> bytes:
        body = self._get(upload_key(tenant_id, import_id), 0, count - 1)
        return body.read() if body is not None else b""

    def blocks(self, tenant_id: str, import_id: str, start: int) -> Iterator[bytes]:
        body = self._get(upload_key(tenant_id, import_id), start)
        if body is None:
            return
        try:
            with aws_errors():
                yield from body.iter_chunks(BLOCK_BYTES)
        finally:
            body.close()

    def put_errors_part(self, tenant_id: str, import_id: str, seq: int, data: bytes) -> None:
        with aws_errors():
            self._s3.put_object(
                Bucket=self.bucket,
                Key=f"{errors_part_prefix(tenant_id, import_id)}{seq:08d}.csv",
                Body=data,
                ContentType="text/csv",
            )

    def _part_keys(self, prefix: str, after: str | None) -> Iterator[str]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if after:
            params["StartAfter"] = after
        with aws_errors():
            for page in self._s3.get_paginator("list_objects_v2").paginate(**params):
                for item in page.get("Contents", []):
                    yield item["Key"]

    def assemble_errors(
        self,
        tenant_id: str,
        import_id: str,
        header: bytes,
        state: dict[str, Any] | None,
        out_of_time: Callable[[], bool],
    ) -> dict[str, Any]:
        writer = MultipartWriter(
            self._s3,
            self.bucket,
            errors_key(tenant_id, import_id),
            content_type="text/csv; charset=utf-8",
            state=(state or {}).get("upload"),
            part_size=self._part_size or PART_SIZE,
        )
        if not state:
            writer.write(header)
        after = (state or {}).get("after")
        for key in self._part_keys(errors_part_prefix(tenant_id, import_id), after):
            with aws_errors():
                writer.write(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            after = key
            if out_of_time():
                return {"after": after, "upload": writer.suspend()}
        writer.close()
        return {"done": True}

    def errors_url(self, tenant_id: str, import_id: str, filename: str, seconds: int) -> str:
        safe = "".join(ch for ch in filename if ch.isprintable() and ch not in '"\\') or "errors.csv"
        return self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": errors_key(tenant_id, import_id),
                "ResponseContentDisposition": f'attachment; filename="{safe}"',
                "ResponseContentType": "text/csv; charset=utf-8",
            },
            ExpiresIn=seconds,
        )
