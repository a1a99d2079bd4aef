"""Cases in the single table (the shape every deal and case write shares is in
storage/records/listed_access.py).

Index facets of a case (pk ``T#t#KX#<facet>``, sk the case id: newest first
is a descending Query): all, closed#<true|false>, tag#<folded>,
contact#<participant> (a contact's cases are one Query).
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.cases.models import Case
from chalicelib.domain.shared.principal import Principal
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.indexed_store import EntryKey, IndexedStore, Item
from chalicelib.storage.indexes.cases import index_entries
from chalicelib.storage.records.history import system_event_op
from chalicelib.storage.records.listed_access import restricted_record_ops


class CaseStore(IndexedStore[Case]):
    kind = "case"
    model = Case

    def record_key(self, tenant_id: str, record_id: str) -> dict[str, str]:
        return keys.case(tenant_id, record_id)

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.case_facet(tenant_id, name)

    def index_entries(self, case: Case) -> dict[EntryKey, Item]:
        return index_entries(case)

    def side_ops(self, before: Case | None, after: Case | None, *, by: str | None, at: Any) -> list[Any]:
        return restricted_record_ops(self.kind, before, after, by=by, at=at)

    def save_with_event(self, principal: Principal, before: Case, after: Case, *, event_text: str) -> Any:
        return self.update(
            before, after, by=principal.user_id, extra=[system_event_op(principal, "case", after.id, event_text)]
        )
