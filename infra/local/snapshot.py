"""Save and restore the local stack's state (DynamoDB items, S3 objects, SQS
messages) under the data dir, so data survives a restart of the moto server.

Layout of the data dir:
  dynamodb.json        the table's items, low-level typed JSON
  s3/index.json        key -> {etag, file, content_type, ...}
  s3/objects/<hash>    object bodies (named by key and ETag)
  sqs.json             messages left in the queues at the last clean shutdown

The table is written and read back by the emulator itself, in one request
(``/_crm/dynamodb/save`` and ``load``, infra/emulator/tables.py), and saved
only when a DynamoDB write happened since the last save: a Scan and
BatchWriteItem of tens of thousands of items took minutes.
Every file is written atomically (temp file + os.replace), so a crash
mid-save leaves the previous snapshot intact.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chalicelib.config import get_settings
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.table_spec import QUEUES, dead_letter_name

log = logging.getLogger("local.snapshot")

FORMAT = 1
DYNAMODB_FILE = "dynamodb.json"
S3_DIR = "s3"
S3_INDEX = "index.json"
SQS_FILE = "sqs.json"
# Secrets Manager (tenants' Twilio credentials): readable by this user only.
SECRETS_FILE = "secrets.json"

# Long enough that nothing we received during the final save becomes visible
# again (and is received twice) before moto stops.
_DRAIN_VISIBILITY_SECONDS = 600
_DRAIN_MAX_MESSAGES = 200_000
_EMULATOR_SECONDS = 120


# --- small helpers -----------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> Any | None:
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _dump(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- the snapshotter -------------------------------------------------------------


class Snapshotter:
    """Knows the table, bucket and queues from the settings (the same env the
    stack runs with) and keeps the S3 index in memory to copy only changes."""

    def __init__(self, data_dir: Path):
        settings = get_settings()
        if not settings.aws_endpoint_url:
            raise RuntimeError("snapshots are taken of the local emulator only (CRM_AWS_ENDPOINT_URL)")
        self.data_dir = data_dir
        self.region = settings.region
        self.emulator = settings.aws_endpoint_url.rstrip("/")
        self.table = settings.table_name
        self.bucket = settings.bucket_name
        # Main queues before their DLQs: draining a queue may redrive into its DLQ.
        names = [settings.queue_name(logical) for logical in QUEUES]
        self.queues = names + [dead_letter_name(name) for name in names]
        self._s3_dir = data_dir / S3_DIR
        self._s3_index: dict[str, dict[str, Any]] = self._load_s3_index()
        self._table_query = urllib.parse.urlencode({"region": self.region, "table": self.table, "file": DYNAMODB_FILE})
        self._saved_writes: int | None = None  # the emulator's write count when the table was last saved

    # -- save --------------------------------------------------------------

    def save(self, *, include_queues: bool = False) -> None:
        self.save_table()
        self.save_objects()
        self.save_secrets()
        if include_queues:
            self.save_queues()

    def save_secrets(self) -> int:
        """Every secret's name and current value (the emulator keeps them in memory only)."""
        secrets = client("secretsmanager")
        saved: dict[str, str] = {}
        for page in secrets.get_paginator("list_secrets").paginate():
            for entry in page.get("SecretList", []):
                value = secrets.get_secret_value(SecretId=entry["Name"]).get("SecretString")
                if value is not None:
                    saved[entry["Name"]] = value
        path = self.data_dir / SECRETS_FILE
        data = _dump({"format": FORMAT, "secrets": saved})
        if not path.is_file() or path.read_bytes() != data:
            write_atomic(path, data)
            os.chmod(path, 0o600)
        return len(saved)

    def restore_secrets(self) -> int:
        document = _read_json(self.data_dir / SECRETS_FILE)
        if not document:
            return 0
        secrets = client("secretsmanager")
        for name, value in document["secrets"].items():
            try:
                secrets.create_secret(Name=name, SecretString=value)
            except secrets.exceptions.ResourceExistsException:
                secrets.put_secret_value(SecretId=name, SecretString=value)
        return len(document["secrets"])

    def save_table(self) -> int | None:
        """Items saved, or None when nothing was written since the last save."""
        # Read before the items: a write in between is seen by the next save.
        writes = int(self._emulator("GET", "dynamodb/writes")["writes"])
        if writes == self._saved_writes and (self.data_dir / DYNAMODB_FILE).is_file():
            return None
        # The emulator writes the file itself (infra/emulator/tables.py), only when its bytes change.
        saved = self._emulator("POST", f"dynamodb/save?{self._table_query}")
        self._saved_writes = writes
        return int(saved["items"])

    def release_received_messages(self) -> int:
        """Messages a consumer received and did not delete become visible now,
        as SQS would make them after the visibility timeout; how many."""
        return int(self._emulator("POST", "sqs/release")["released"])

    def _emulator(self, method: str, action: str) -> Any:
        request = urllib.request.Request(
            f"{self.emulator}/_crm/{action}", method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=_EMULATOR_SECONDS) as answer:
            return json.loads(answer.read())

    def save_objects(self) -> int:
        s3 = client("s3")
        current: dict[str, str] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for entry in page.get("Contents", []):
                current[entry["Key"]] = entry["ETag"]
        index = dict(self._s3_index)
        stale_files: list[str] = []
        changed = False
        for key, etag in current.items():
            known = index.get(key)
            if known and known["etag"] == etag and (self._s3_dir / known["file"]).is_file():
                continue
            try:
                index[key] = self._copy_object(key)
            except s3.exceptions.NoSuchKey:
                continue  # deleted between list and get: the next save sees it gone
            if known and known["file"] != index[key]["file"]:
                stale_files.append(known["file"])
            changed = True
        for key in set(index) - set(current):
            stale_files.append(index.pop(key)["file"])
            changed = True
        if changed or not (self._s3_dir / S3_INDEX).is_file():
            # Index first, then drop old bodies: a crash in between leaves only garbage, never a dangling entry.
            write_atomic(self._s3_dir / S3_INDEX, _dump({"format": FORMAT, "bucket": self.bucket, "objects": index}))
            self._s3_index = index
            for name in stale_files:
                (self._s3_dir / name).unlink(missing_ok=True)
        return len(index)

    def _copy_object(self, key: str) -> dict[str, Any]:
        answer = client("s3").get_object(Bucket=self.bucket, Key=key)
        etag = answer["ETag"]
        name = "objects/" + hashlib.sha256(f"{key}\0{etag}".encode()).hexdigest()
        target = self._s3_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".obj.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                shutil.copyfileobj(answer["Body"], handle, 1024 * 1024)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        entry: dict[str, Any] = {
            "etag": etag,
            "file": name,
            "content_type": answer.get("ContentType", "binary/octet-stream"),
            "metadata": answer.get("Metadata", {}),
        }
        for field in ("ContentDisposition", "ContentEncoding", "CacheControl"):
            if answer.get(field):
                entry[field] = answer[field]
        return entry

    def save_queues(self) -> int:
        """Only at shutdown, with the pump stopped: receiving hides the messages.
        Those the pump had received and not deleted are saved too (visible again)."""
        released = self.release_received_messages()
        if released:
            log.info("%d message(s) received but not deleted are saved to be delivered again", released)
        sqs = client("sqs")
        saved: dict[str, list[dict[str, Any]]] = {}
        total = 0
        for name in self.queues:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            messages = saved.setdefault(name, [])
            while total < _DRAIN_MAX_MESSAGES:
                answer = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=0,
                    VisibilityTimeout=_DRAIN_VISIBILITY_SECONDS,
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=["All"],
                )
                batch = answer.get("Messages", [])
                if not batch:
                    break
                messages.extend(_stored_message(m) for m in batch)
                total += len(batch)
            self._warn_unsaved(sqs, name, url)
        write_atomic(self.data_dir / SQS_FILE, _dump({"format": FORMAT, "queues": saved}))
        return total

    @staticmethod
    def _warn_unsaved(sqs: Any, name: str, url: str) -> None:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])[
            "Attributes"
        ]
        delayed = int(attrs.get("ApproximateNumberOfMessagesDelayed", "0"))
        if delayed:
            log.warning("%d delayed message(s) in %s are not saved (not yet visible)", delayed, name)

    # -- restore -------------------------------------------------------------

    def restore(self) -> dict[str, int]:
        self.restore_secrets()
        return {"items": self.restore_table(), "objects": self.restore_objects(), "messages": self.restore_queues()}

    def restore_table(self) -> int:
        if not (self.data_dir / DYNAMODB_FILE).is_file():
            return 0
        restored = int(self._emulator("POST", f"dynamodb/load?{self._table_query}")["items"])
        # What was just loaded is what the file holds: the first save need not rewrite it.
        self._saved_writes = int(self._emulator("GET", "dynamodb/writes")["writes"])
        return restored

    def restore_objects(self) -> int:
        s3 = client("s3")
        for key, entry in self._s3_index.items():
            extra = {
                field: entry[field]
                for field in ("ContentDisposition", "ContentEncoding", "CacheControl")
                if entry.get(field)
            }
            with open(self._s3_dir / entry["file"], "rb") as body:
                answer = s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentType=entry["content_type"],
                    Metadata=entry.get("metadata") or {},
                    **extra,
                )
            # A multipart ETag changes on a single PUT; keep the index in step so the body is not copied again.
            entry["etag"] = answer["ETag"]
        return len(self._s3_index)

    def restore_queues(self) -> int:
        document = _read_json(self.data_dir / SQS_FILE)
        if not document:
            return 0
        sqs = client("sqs")
        total = 0
        for name, messages in document["queues"].items():
            if name not in self.queues or not messages:
                if messages:
                    log.warning("snapshot has %d message(s) for unknown queue %s; skipped", len(messages), name)
                continue
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            for chunk in _chunks(messages, 10):
                entries = [_send_entry(str(i), m) for i, m in enumerate(chunk)]
                failed = sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed") or []
                if failed:
                    raise RuntimeError(f"SQS refused {len(failed)} restored message(s) for {name}: {failed[0]}")
                total += len(chunk)
        return total

    def _load_s3_index(self) -> dict[str, dict[str, Any]]:
        document = _read_json(self._s3_dir / S3_INDEX)
        return dict(document["objects"]) if document else {}


def _stored_message(message: dict[str, Any]) -> dict[str, Any]:
    attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        stored = {"DataType": value["DataType"]}
        if "StringValue" in value:
            stored["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            stored["BinaryValue"] = _b64(value["BinaryValue"])
        attributes[name] = stored
    system = message.get("Attributes") or {}
    return {
        "body": message["Body"],
        "message_attributes": attributes,
        "attributes": {
            k: system[k] for k in ("MessageGroupId", "MessageDeduplicationId", "SentTimestamp") if k in system
        },
    }


def _send_entry(entry_id: str, stored: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": entry_id, "MessageBody": stored["body"]}
    attributes = {}
    for name, value in stored.get("message_attributes", {}).items():
        value = dict(value)
        if "BinaryValue" in value:
            value["BinaryValue"] = base64.b64decode(value["BinaryValue"])
        attributes[name] = value
    if attributes:
        entry["MessageAttributes"] = attributes
    system = stored.get("attributes", {})
    for field in ("MessageGroupId", "MessageDeduplicationId"):  # FIFO queues need them back
        if field in system:
            entry[field] = system[field]
    return entry
