"""Web forms and the public endpoint's rate counters in the single table (WEB-1..3).

A form is one item (``T#t#WEBFORM#<id>`` / ``META``) with one index entry
(``T#t#WFX#all``, the tenant's list, newest first) and its public-key lookup
item (``FORMKEY#<key>`` / ``FORM``, naming tenant and form), all written in
one transaction: a key always leads to its form, a rotated key to nothing.

Rate counters are fixed windows: ``ADD hits 1`` on the condition that the
window holds fewer than the limit, so a refused request changes nothing.
They expire an hour after their window (TTL, and housekeeping through the
schedule index where TTL lags or, as on the local emulator, never runs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.forms.models import WebForm
from chalicelib.domain.shared.errors import Conflict
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors
from chalicelib.storage.dynamo.indexed_store import EntryKey, IndexedStore, Item
from chalicelib.storage.dynamo.table import Delete, Put, Table, Update, serialize


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


class FormRateCounters:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def take(self, tenant_id: str, scope: str, subject: str, window: int, limit: int, expires_at: datetime) -> bool:
        expiry = keys.expiry_attributes(expires_at)
        full = Conflict("The window holds its limit.")
        try:
            with aws_errors(on_condition=[full]):
                client("dynamodb").update_item(
                    TableName=self._table.name,
                    Key=serialize(keys.web_form_limit(tenant_id, scope, subject, window)),
                    UpdateExpression="ADD #hits :one SET #ttl = :ttl, #spk = :spk, #ssk = :ssk",
                    ConditionExpression="attribute_not_exists(#hits) OR #hits < :limit",
                    ExpressionAttributeNames={"#hits": "hits", "#ttl": "ttl", "#spk": "sched_pk", "#ssk": "sched_sk"},
                    ExpressionAttributeValues=serialize(
                        {
                            ":one": 1,
                            ":limit": limit,
                            ":ttl": expiry["ttl"],
                            ":spk": expiry["sched_pk"],
                            ":ssk": expiry["sched_sk"],
                        }
                    ),
                )
        except Conflict as refused:
            if refused is full:
                return False
            raise
        return True
