"""Where the in-memory twins keep their data, and how they page through it.

``MemoryDb`` holds one dict per (tenant, table): the twins of a test share
one, as the DynamoDB adapters share the table, so a contact's write can move
a settings entry's use counter and add a change-log entry at once. Rows that
belong to no tenant (login throttles, schedule checkpoints) live under the
tenant ``""``.

Values are immutable: records are kept as their JSON text (what DynamoDB
holds, too) and read back as fresh models, so a caller changing what it got
can never change what is stored; everything else is str, int, tuple or
frozen. That is what makes a transaction cheap: ``transaction()`` keeps a
shallow copy of every table and puts them back if the block raises, so a
write is all or nothing, as a DynamoDB transaction (a test's data is small:
the copy costs microseconds).

Not for production code: nothing outside tests imports storage/memory.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from chalicelib.domain.shared.errors import FieldError, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice

M = TypeVar("M", bound=BaseModel)
V = TypeVar("V")

GLOBAL = ""  # the tenant of rows that belong to no tenant
MAX_TRANSACTION = 100  # DynamoDB's limit on one transaction (storage/dynamo/indexed_store.checked)

TableKey = tuple[str, str]


class MemoryDb:
    def __init__(self) -> None:
        self._tables: dict[TableKey, dict[Any, Any]] = {}
        self._in_transaction = False

    def table(self, tenant_id: str, name: str) -> dict[Any, Any]:
        """The rows of one table of one tenant (created empty on first use)."""
        return self._tables.setdefault((tenant_id, name), {})

    def tenants(self, name: str) -> list[str]:
        """Every tenant that has rows in table ``name`` (cross-tenant schedules)."""
        return sorted(tenant for tenant, table in self._tables if table == name and self._tables[(tenant, table)])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: every table touched inside goes back as it was if the block raises."""
        if self._in_transaction:  # nested: the outer transaction restores
            yield
            return
        saved = {key: dict(rows) for key, rows in self._tables.items()}
        self._in_transaction = True
        try:
            yield
        except BaseException:
            for key, rows in self._tables.items():
                rows.clear()
                rows.update(saved.get(key, {}))
            raise
        finally:
            self._in_transaction = False


# ---- rows ----


def frozen(model: BaseModel) -> str:
    """What a row holds for a record: its JSON text."""
    return model.model_dump_json()


def thawed(model: type[M], text: str) -> M:
    return model.model_validate_json(text)


def frozen_item(item: dict[str, Any]) -> str:
    """An index entry or another plain item, without its null attributes (DynamoDB keeps none)."""
    return json.dumps({k: v for k, v in item.items() if v is not None}, sort_keys=True, default=str)


def thawed_item(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def stored_moment(moment: datetime) -> datetime:
    """A time as the DynamoDB adapters write it with ``iso``: UTC, whole milliseconds."""
    from chalicelib.domain.shared.clock import iso

    return datetime.fromisoformat(iso(moment))


def check_size(operations: int) -> None:
    """The same refusal as storage/dynamo/indexed_store.checked for a write of too many items."""
    if operations > MAX_TRANSACTION:
        raise ValidationFailed(
            "This change touches too much at once; split it into smaller changes.",
            errors=[FieldError("body", f"{operations} writes, at most {MAX_TRANSACTION}")],
        )


# ---- paging: the contract of storage/dynamo/table.Table.query ----


def paged(
    rows: Sequence[tuple[str, V]],
    page: PageRequest,
    *,
    partition: str = "",
    newest_first: bool = False,
    visible: Callable[[V], bool] | None = None,
) -> Slice[V]:
    """One page of ``rows`` ((sort key, value), any order; sort keys unique).

    As a DynamoDB Query: sorted by sort key (descending with
    ``newest_first``), starting after ``page.after``, at most ``page.limit``
    values that pass ``visible``; ``after`` names the last one returned when
    more rows follow, else None. The position is ``{"pk": partition, "sk": key}``.

    "More rows", visible or not: a Query that fills its page cannot know that
    the rows after it are all hidden without reading them, so it names a
    position and the next page is empty (storage/dynamo/table.Table.query;
    tests/contract/test_paging_contract.py)."""
    ordered = sorted(rows, key=lambda row: row[0], reverse=newest_first)
    start = (page.after or {}).get("sk")
    if isinstance(start, str):
        ordered = [row for row in ordered if (row[0] < start if newest_first else row[0] > start)]
    items: list[V] = []
    for position, (sort_key, value) in enumerate(ordered):
        if visible is not None and not visible(value):
            continue
        items.append(value)
        if len(items) == page.limit:
            more = position + 1 < len(ordered)
            return Slice(items, {"pk": partition, "sk": sort_key} if more else None)
    return Slice(items, None)


def every_page(read: Callable[[PageRequest], Slice[V]], limit: int = 200) -> list[V]:
    """Every item of a paged read, page after page."""
    found: list[V] = []
    page = PageRequest(limit=limit)
    while True:
        got = read(page)
        found += got.items
        if got.after is None:
            return found
        page = PageRequest(limit=limit, after=got.after)
