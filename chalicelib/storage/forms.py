"""Web forms in the single table (WEB-1..3).

A form is one item (``T#t#WEBFORM#<id>`` / ``META``) with one index entry
(``T#t#WFX#all``, the tenant's list, newest first) and its public-key lookup
item (``FORMKEY#<key>`` / ``FORM``, naming tenant and form), all written in
one transaction: a key always leads to its form, a rotated key to nothing.

The public endpoint's rate counters are the shared ones (storage/limits.py).
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.forms.models import WebForm
from chalicelib.domain.shared.errors import Conflict
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.indexed_store import EntryKey, IndexedStore, Item
from chalicelib.storage.dynamo.table import Delete, Put, Update


def _key_item(form: WebForm) -> Item:
    return {**keys.web_form_key(form.key), "tenant_id": form.tenant_id, "form_id": form.id}


class WebFormStore(IndexedStore[WebForm]):
    kind = "web_form"
    model = WebForm
    entry_id = "rid"

    def record_key(self, tenant_id: str, record_id: str) -> dict[str, str]:
        return keys.web_form(tenant_id, record_id)

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.web_form_facet(tenant_id, name)

    def index_entries(self, record: WebForm) -> dict[EntryKey, Item]:
        pk = self.facet(record.tenant_id, "all")
        return {(pk, record.id): {"pk": pk, "sk": record.id, "rid": record.id}}

    def _tag_ops(self, before: WebForm | None, after: WebForm | None) -> list[Update]:
        return []  # a form's tags are given to contacts, whose writes register them

    def side_ops(self, before: WebForm | None, after: WebForm | None, *, by: str | None, at: Any) -> list[Any]:
        if before is not None and after is not None and before.key == after.key:
            return []
        ops: list[Any] = []
        if before is not None:
            ops.append(Delete(keys.web_form_key(before.key)))
        if after is not None:
            ops.append(Put(_key_item(after), on_conflict=Conflict("The form key is taken; try again.")))
        return ops

    def find_by_key(self, key: str) -> tuple[str, str] | None:
        item = self._table.get(keys.web_form_key(key))
        return (item["tenant_id"], item["form_id"]) if item else None

    def list_forms(self, tenant_id: str, page: PageRequest) -> Slice[WebForm]:
        entries = self.query_entries(self.facet(tenant_id, "all"), page, newest_first=True)
        return self.records_of(tenant_id, entries)
