"""The case store's twin (storage/cases.py): cases with their index entries."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.cases.models import Case
from chalicelib.domain.records.history import system_event
from chalicelib.domain.shared.principal import Principal
from chalicelib.storage.dynamo import keys
from chalicelib.storage.indexes import Entries
from chalicelib.storage.indexes.cases import index_entries
from chalicelib.storage.memory.indexed_store import MemoryIndexedStore, logged
from chalicelib.storage.memory.records import add_event, log_change
from chalicelib.storage.memory.settings import use_fields


class MemoryCaseStore(MemoryIndexedStore[Case]):
    kind = "case"
    model = Case

    def tenant_of(self, record: Case) -> str:
        return record.tenant_id

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.case_facet(tenant_id, name)

    def index_entries(self, record: Case) -> Entries:
        return index_entries(record)

    def tags_of(self, record: Case) -> list[str]:
        return record.tags

    def effects(self, before: Case | None, after: Case | None, *, by: str | None, at: datetime) -> int:
        case = after or before
        assert case is not None
        return log_change(self._db, case.tenant_id, "case", case.id, logged(before), logged(after), by=by, at=at) + (
            use_fields(
                self._db,
                case.tenant_id,
                before.custom_fields if before else None,
                after.custom_fields if after else None,
            )
        )

    def save_with_event(self, principal: Principal, before: Case, after: Case, *, event_text: str) -> Case:
        event = system_event(principal, "case", after.id, event_text)
        return self.update(before, after, by=principal.user_id, extra=lambda: add_event(self._db, event))
