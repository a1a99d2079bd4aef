"""Collaborators of the features' services, adapted for one import chunk.

The import writes through the same services as a user does (Contacts,
Deals, Tasks, Cases). What changes is around them, for one chunk at a time:
- reads that do not change within a chunk (the tenant's tag names, users,
  custom field definitions, settings lists) are answered once (``Memo``);
- in a dry run the record stores validate but do not write (``ImportStore``
  with ``dry_run``), and events are not published;
- notifications to users made managers are counted, not sent one per row
  (``CollectingNotifier``): the import tells each of them once at the end.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any


class Memo:
    """``target`` with the named methods answered from a cache after their first call."""

    def __init__(self, target: Any, *names: str):
        self._target = target
        self._names = frozenset(names)
        self._cache: dict[Hashable, Any] = {}

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if name not in self._names:
            return attribute

        def cached(*args: Any, **kwargs: Any) -> Any:
            try:
                key: Hashable = (name, args, tuple(sorted(kwargs.items())))
                hash(key)
            except TypeError:
                return attribute(*args, **kwargs)
            if key not in self._cache:
                self._cache[key] = attribute(*args, **kwargs)
            return self._cache[key]

        return cached


class RecordStore:
    """A feature's record store for one chunk: tag names read once (and kept
    current as rows add tags); in a dry run, writes only answer what they
    would have written."""

    def __init__(self, store: Any, *, dry_run: bool):
        self._store = store
        self._dry_run = dry_run
        self._tags: dict[str, dict[str, str]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def tag_names(self, tenant_id: str) -> dict[str, str]:
        if tenant_id not in self._tags:
            self._tags[tenant_id] = dict(self._store.tag_names(tenant_id))
        return self._tags[tenant_id]

    def _learn(self, record: Any) -> None:
        from chalicelib.domain.shared.text import fold

        known = self._tags.get(record.tenant_id)
        if known is not None:
            for tag in getattr(record, "tags", None) or []:
                known.setdefault(fold(tag), tag)

    def create(self, record: Any, **kwargs: Any) -> Any:
        if not self._dry_run:
            self._store.create(record, **kwargs)
        self._learn(record)
        return record

    def update(self, before: Any, after: Any, **kwargs: Any) -> Any:
        self._learn(after)
        if self._dry_run:
            return after.model_copy(update={"version": before.version + 1})
        return self._store.update(before, after, **kwargs)

    # Tasks and deals write through their own methods; a dry run writes none of them.
    def create_task(self, principal: Any, task: Any, **kwargs: Any) -> None:
        if not self._dry_run:
            self._store.create_task(principal, task, **kwargs)

    def update_task(self, principal: Any, before: Any, after: Any, **kwargs: Any) -> Any:
        if self._dry_run:
            return after.model_copy(update={"version": before.version + 1})
        return self._store.update_task(principal, before, after, **kwargs)

    def change_stage(self, principal: Any, before: Any, after: Any, **kwargs: Any) -> Any:
        if self._dry_run:
            return after.model_copy(update={"version": before.version + 1})
        return self._store.change_stage(principal, before, after, **kwargs)

    def save_with_event(self, principal: Any, before: Any, after: Any, **kwargs: Any) -> Any:
        if self._dry_run:
            return after.model_copy(update={"version": before.version + 1})
        return self._store.save_with_event(principal, before, after, **kwargs)


class CollectingNotifier:
    """Counts the notifications a chunk's writes would send, by user."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def notify(
        self, tenant_id: str, user_ids: list[str], kind: str, subject: str, link: str | None = None, **_: Any
    ) -> list[Any]:
        for user_id in dict.fromkeys(user_ids):
            self.counts[user_id] = self.counts.get(user_id, 0) + 1
        return []


class Discard:
    """An event publisher that publishes nothing (dry runs)."""

    def publish(self, event: Any) -> None:
        return None
