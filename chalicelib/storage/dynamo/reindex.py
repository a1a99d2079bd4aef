"""Rebuilding index entries and tag registries from the records.

Index entries and tag registry keys are derived data: when the rules that
derive them change (``INDEX_VERSION``), existing data is rebuilt once. The
first change: ``fold`` transliterates every letter (issue 10), so "Ørsted" is
found as "orsted", and a person carries its company's name. Version 3: each
e-mail address of a contact has its exact entry (``mail#<address>``), which
an import's duplicate matching reads.

Offline only (two Scans of the table): ``python -m chalicelib.cli migrate``
runs it when the table's marker is older than the code, before the API takes
writes (the local stack does so at start). Memory grows with the number of
index entries (a few hundred bytes each): fine for hundreds of thousands of
records; beyond that, run it per tenant from a Lambda with more memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.shared.text import fold
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.indexed_store import IndexedStore
from chalicelib.storage.dynamo.table import Table

INDEX_VERSION = 3
_MARKER = keys.job_state("index-version")
_PROBE_TENANT, _PROBE_ID = "t", "x"


@dataclass
class ReindexReport:
    records: int = 0
    entries_written: int = 0
    entries_removed: int = 0
    tags_rekeyed: int = 0
    records_changed: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def _infixes(store: IndexedStore[Any]) -> tuple[str, str, str]:
    """What follows ``T#<tenant>#`` in the store's record keys and entry keys."""
    prefix = keys.tenant_prefix(_PROBE_TENANT)
    record_pk = store.record_key(_PROBE_TENANT, _PROBE_ID)["pk"]
    record_infix = record_pk[len(prefix) : -len(_PROBE_ID)]
    entry_infix = store.facet(_PROBE_TENANT, "")[len(prefix) :]
    return record_infix, entry_infix, keys.tags(_PROBE_TENANT, store.kind)[len(prefix) :]


def current_version(table: Table) -> int:
    found = table.get(_MARKER, consistent=True)
    return int(found.get("index_version", 1)) if found else 1


def reindex(stores: Iterable[IndexedStore[Any]], table: Table) -> ReindexReport:
    """Rewrite every record's entries and every tag registry key; remove the
    entries no record derives any more; then mark the table current."""
    stores = list(stores)
    plans = [(store, *_infixes(store)) for store in stores]
    report = ReindexReport()
    kept: set[tuple[str, str]] = set()
    records: list[tuple[IndexedStore[Any], dict[str, Any]]] = []
    registries: list[tuple[IndexedStore[Any], str, dict[str, Any]]] = []
    for item in table.scan():
        split = keys.split_tenant(item["pk"])
        if split is None:
            continue
        tenant_id, rest = split
        for store, record_infix, _, registry_infix in plans:
            if (
                rest.startswith(record_infix)
                and item["sk"] == store.record_key(tenant_id, "x")["sk"]
                and "#" not in rest[len(record_infix) :]
            ):
                records.append((store, item))
            elif rest == registry_infix:
                registries.append((store, tenant_id, item))

    by_id = {(store.kind, item["tenant_id"], item["id"]): item for store, item in records}
    for store, item in records:
        record = store.model.model_validate(item)

        def find(kind: str, record_id: str, tenant: str = record.tenant_id) -> dict[str, Any] | None:
            return by_id.get((kind, tenant, record_id))

        migrated = store.migrated(record, find)
        if migrated is not None:
            old, new = store.item(record), store.item(migrated)
            changes = {k: new.get(k) for k in set(old) | set(new) if old.get(k) != new.get(k)}
            table.update(store.record_key(record.tenant_id, record.id), set=changes, expected_version=record.version)
            record = migrated
            report.records_changed += 1
        entries = store.index_entries(record)
        kept.update(entries)
        table.write_batch(puts=entries.values())
        report.records += 1
        report.entries_written += len(entries)
        report.by_kind[store.kind] = report.by_kind.get(store.kind, 0) + 1

    for store, tenant_id, item in registries:
        folded = fold(item["name"])
        if folded != item["sk"]:
            table.write_batch(
                puts=[{**item, **keys.tag(tenant_id, store.kind, folded)}],
                deletes=[{"pk": item["pk"], "sk": item["sk"]}],
            )
            report.tags_rekeyed += 1

    stale = []
    for item in table.scan():
        split = keys.split_tenant(item["pk"])
        if split is None:
            continue
        if (
            any(split[1].startswith(entry_infix) for _, _, entry_infix, _ in plans)
            and (item["pk"], item["sk"]) not in kept
        ):
            stale.append({"pk": item["pk"], "sk": item["sk"]})
    table.write_batch(deletes=stale)
    report.entries_removed = len(stale)
    table.update(_MARKER, set={"index_version": INDEX_VERSION}, bump_version=False, must_exist=False)
    return report
