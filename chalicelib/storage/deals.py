"""Deals in the single table (see storage/records/listed_access.py for the shape
every deal and case write shares), the pipeline aggregates and projects.

Index facets of a deal (pk ``T#t#DX#<facet>``, sk the deal id, so newest
first is a descending Query): all, resp#<user>, stage#<stage>,
status#<open|won|lost>, tag#<folded>, contact#<contact> (the main contact and
each member: a contact's deals are one Query), acl#<user> (private deals, one
per listed user: the pipeline reads a caller's private deals from there) and
``close`` (sk ``<expected close date>#<id>``: close_from/close_to is a range).

Pipeline aggregates: ``T#t#PIPELINE`` / ``<PUB|PRIV>#<stage>#<currency>``
with ``count``, ``value`` and ``weighted`` numbers, ADDed (Decimal) in every
deal write's transaction: the deal's old contribution leaves, its new one
arrives. See domain/deals/pipeline.py for the cost model.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.domain.deals.models import Deal, Project
from chalicelib.domain.shared.errors import NotFound
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.indexed_store import EntryKey, IndexedStore, Item
from chalicelib.storage.dynamo.table import Check, Delete, Put, SortKey, Update
from chalicelib.storage.indexes.deals import contribution, index_entries
from chalicelib.storage.records.history import system_event_op
from chalicelib.storage.records.listed_access import restricted_record_ops
from chalicelib.storage.settings.lists import usage_ops


def aggregate_ops(tenant_id: str, before: Deal | None, after: Deal | None) -> list[Update]:
    deltas: dict[tuple[str, str, str], list[Any]] = {}
    for sign, deal in ((-1, before), (1, after)):
        for key, (count, value, weighted) in contribution(deal).items():
            total = deltas.setdefault(key, [0, Decimal(0), Decimal(0)])
            total[0] += sign * count
            total[1] += sign * value
            total[2] += sign * weighted
    return [
        Update(
            keys.pipeline_aggregate(tenant_id, scope, stage, currency),
            add={"count": count, "value": value, "weighted": weighted},
            bump_version=False,
            must_exist=False,
        )
        for (scope, stage, currency), (count, value, weighted) in sorted(deltas.items())
        if count or value or weighted
    ]


class DealStore(IndexedStore[Deal]):
    kind = "deal"
    model = Deal

    def record_key(self, tenant_id: str, record_id: str) -> dict[str, str]:
        return keys.deal(tenant_id, record_id)

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.deal_facet(tenant_id, name)

    def index_entries(self, deal: Deal) -> dict[EntryKey, Item]:
        return index_entries(deal)

    def side_ops(self, before: Deal | None, after: Deal | None, *, by: str | None, at: Any) -> list[Any]:
        tenant = (after or before).tenant_id  # type: ignore[union-attr]
        return [
            *restricted_record_ops(self.kind, before, after, by=by, at=at),
            *usage_ops(
                tenant,
                "deal-stages",
                before.stage_id if before else None,
                after.stage_id if after else None,
                field="stage_id",
            ),
            *aggregate_ops(tenant, before, after),
        ]

    def change_stage(self, principal: Principal, before: Deal, after: Deal, *, event_text: str) -> Deal:
        """The stage change, its history event and counters in one transaction."""
        return self.update(
            before, after, by=principal.user_id, extra=[system_event_op(principal, "deal", after.id, event_text)]
        )

    def query_deals(
        self, tenant_id: str, facet: str, page: PageRequest, *, close_range: tuple[str, str] | None, visible: Any
    ) -> Slice[Deal]:
        if close_range is not None:
            return self.query(
                tenant_id, "close", page, sort=SortKey.between(*close_range), newest_first=False, visible=visible
            )
        return self.query(tenant_id, facet, page, visible=visible)

    # ---- pipeline ----

    def aggregates(self, tenant_id: str) -> list[Item]:
        """Every (scope, stage, currency) aggregate: one Query (stages x currencies items)."""
        found, after = [], None
        while True:
            page = self._table.query(
                keys.pipeline(tenant_id), page=PageRequest(limit=200, after=after), consistent=True
            )
            found += page.items
            if page.after is None:
                return found
            after = page.after

    # ---- projects (DEA-7) ----

    def add_project(self, deal: Deal, project: Project) -> None:
        link = keys.deal_project_link(deal.tenant_id, deal.id, project.id)
        self._table.transact(
            [
                Put({**project.model_dump(mode="json"), **keys.project(project.tenant_id, project.id)}),
                Put({**link, "project_id": project.id, "title": project.title}),
                Check(
                    keys.deal(deal.tenant_id, deal.id),
                    "attribute_exists(pk)",
                    on_conflict=NotFound("The deal does not exist."),
                ),
            ]
        )

    def projects(self, tenant_id: str, deal_id: str, page: PageRequest) -> Slice[Project]:
        links = self._table.query(
            keys.deal(tenant_id, deal_id)["pk"],
            sort=SortKey.begins_with(keys.PROJECT_LINK_PREFIX),
            page=page,
            consistent=True,
        )
        items = {
            i["pk"]: i
            for i in self._table.get_many(keys.project(tenant_id, link["project_id"]) for link in links.items)
        }
        found = [items.get(keys.project(tenant_id, link["project_id"])["pk"]) for link in links.items]
        return Slice([Project.model_validate(i) for i in found if i], links.after)

    def unlink_projects(self, tenant_id: str, deal_id: str) -> int:
        count = 0
        while True:
            links = self._table.query(
                keys.deal(tenant_id, deal_id)["pk"],
                sort=SortKey.begins_with(keys.PROJECT_LINK_PREFIX),
                page=PageRequest(limit=25),
                consistent=True,
            )
            if not links.items:
                return count
            for link in links.items:
                project_key = keys.project(tenant_id, link["project_id"])
                ops: list[Any] = [Delete({"pk": link["pk"], "sk": link["sk"]})]
                if self._table.get(project_key, consistent=True):
                    ops.append(Update(project_key, set={"deal_id": None}, bump_version=True))
                self._table.transact(ops)
                count += 1
