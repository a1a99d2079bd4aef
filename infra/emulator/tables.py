"""A DynamoDB table of the emulator to a file and back, inside the emulator
process: the local stack's snapshot (infra/local/snapshot.py) of tens of
thousands of items in seconds. Over the API it took minutes: a Scan
deep-copies and sizes every item page by page, moto converts each answer
item by item, and a restore is thousands of BatchWriteItem requests.

The file: ``{"format": 1, "table": name, "items": [...]}``, each item in
DynamoDB's low-level typed JSON with binary values in base64, sorted by key,
so an unchanged table gives the same bytes and is not rewritten.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table

from infra.emulator.dynamodb_patch import unsorted_items

FORMAT = 1
_SETS = frozenset({"SS", "NS"})


def _b64(value: str | bytes) -> str:
    # moto keeps a binary value as bytes at the top of an item, as base64 text inside maps and lists.
    return value if isinstance(value, str) else base64.b64encode(value).decode("ascii")


def wire(value: DynamoType) -> dict[str, Any]:
    """A stored value as DynamoDB's typed JSON (new containers: safe to encode
    after the table's lock is released)."""
    kind, inner = value.type, value.value
    if kind == "M":
        return {"M": {name: wire(member) for name, member in inner.items()}}
    if kind == "L":
        return {"L": [wire(member) for member in inner]}
    if kind == "B":
        return {"B": _b64(inner)}
    if kind == "BS":
        return {"BS": [_b64(member) for member in inner]}
    if kind in _SETS:
        return {kind: list(inner)}
    return {kind: inner}


def _typed(value: dict[str, Any]) -> DynamoType:
    """DynamoType(value) in one pass, binary values decoded as moto's request
    parser hands them over (a restore builds millions of these)."""
    ((kind, inner),) = value.items()
    typed = DynamoType.__new__(DynamoType)
    typed.type = kind
    if kind == "M":
        typed.value = {name: _typed(member) for name, member in inner.items()}
    elif kind == "L":
        typed.value = [_typed(member) for member in inner]
    elif kind == "B":
        typed.value = base64.b64decode(inner)
    elif kind == "BS":
        typed.value = [base64.b64decode(member) for member in inner]
    else:
        typed.value = inner
    return typed


def _sort_key(item: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted(item.get(name, {}).items()) for name in ("pk", "sk"))


class TableFiles:
    """Saves and loads tables to files in one folder; remembers what it wrote
    last, so an unchanged table is not written again."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._written: dict[Path, str] = {}

    def save(self, table: Table, name: str, lock: threading.Lock) -> dict[str, Any]:
        with lock:  # one state of the table, not one torn by a write
            items = [
                {attribute: wire(value) for attribute, value in item.attrs.items()} for item in unsorted_items(table)
            ]
        items.sort(key=_sort_key)
        data = json.dumps(
            {"format": FORMAT, "table": table.name, "items": items}, ensure_ascii=False, separators=(",", ":")
        ).encode()
        path = self.folder / name
        digest = hashlib.sha256(data).hexdigest()
        written = digest != self._written.get(path) or not path.is_file()
        if written:
            _write_atomic(path, data)
            self._written[path] = digest
        return {"items": len(items), "written": written}

    def load(self, table: Table, name: str, lock: threading.Lock) -> int:
        """Puts every item of the file into the table (which the stack has just created)."""
        path = self.folder / name
        if not path.is_file():
            return 0
        raw = path.read_bytes()
        items = json.loads(raw)["items"]
        with lock:
            for attributes in items:
                _insert(table, attributes)
        self._written[path] = hashlib.sha256(raw).hexdigest()
        return len(items)


def _insert(table: Table, attributes: dict[str, Any]) -> None:
    # Items the table held before: no conditions, types or sizes to check again.
    item = Item.__new__(Item)
    item.attrs = LimitedSizeDict()
    for name, value in attributes.items():
        dict.__setitem__(item.attrs, name, _typed(value))
    item.hash_key = _typed(attributes[table.hash_key_attr])
    if table.range_key_attr is None:
        item.range_key = None
        table.items[item.hash_key] = item
    else:
        item.range_key = _typed(attributes[table.range_key_attr])
        table.items[item.hash_key][item.range_key] = item


def _write_atomic(path: Path, data: bytes) -> None:
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
