"""The deal store's twin (storage/deals.py): deals with their index entries,
the pipeline aggregates every deal write moves, and projects."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.deals.models import Deal, Project
from chalicelib.domain.records.history import system_event
from chalicelib.domain.shared.errors import Conflict, NotFound
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.keys import SortKey
from chalicelib.storage.indexes import Entries
from chalicelib.storage.indexes.deals import contribution, index_entries
from chalicelib.storage.memory.db import frozen, paged, thawed
from chalicelib.storage.memory.indexed_store import MemoryIndexedStore, Visible, logged
from chalicelib.storage.memory.records import add_event, log_change
from chalicelib.storage.memory.settings import use_entries, use_fields

PIPELINE = "pipeline"  # (scope, stage id, currency) -> (count, value, weighted) as (int, str, str)
PROJECTS = "projects"  # project id -> Project
PROJECT_LINKS = "project_links"  # (deal id, project id) -> project title


class MemoryDealStore(MemoryIndexedStore[Deal]):
    kind = "deal"
    model = Deal

    def tenant_of(self, record: Deal) -> str:
        return record.tenant_id

    def facet(self, tenant_id: str, name: str) -> str:
        return keys.deal_facet(tenant_id, name)

    def index_entries(self, record: Deal) -> Entries:
        return index_entries(record)

    def tags_of(self, record: Deal) -> list[str]:
        return record.tags

    def effects(self, before: Deal | None, after: Deal | None, *, by: str | None, at: datetime) -> int:
        deal = after or before
        assert deal is not None
        tenant = deal.tenant_id
        return (
            log_change(self._db, tenant, "deal", deal.id, logged(before), logged(after), by=by, at=at)
            + use_fields(
                self._db, tenant, before.custom_fields if before else None, after.custom_fields if after else None
            )
            + use_entries(
                self._db,
                tenant,
                "deal-stages",
                before.stage_id if before else None,
                after.stage_id if after else None,
                field="stage_id",
            )
            + self._move_aggregates(tenant, before, after)
        )

    def _move_aggregates(self, tenant_id: str, before: Deal | None, after: Deal | None) -> int:
        """The deal's old contribution leaves the pipeline sums, its new one arrives."""
        deltas: dict[tuple[str, str, str], list[Any]] = {}
        for sign, deal in ((-1, before), (1, after)):
            for key, (count, value, weighted) in contribution(deal).items():
                total = deltas.setdefault(key, [0, Decimal(0), Decimal(0)])
                total[0] += sign * count
                total[1] += sign * value
                total[2] += sign * weighted
        rows = self._db.table(tenant_id, PIPELINE)
        writes = 0
        for key, (count, value, weighted) in sorted(deltas.items()):
            if not (count or value or weighted):
                continue
            old_count, old_value, old_weighted = rows.get(key, (0, "0", "0"))
            rows[key] = (old_count + count, str(Decimal(old_value) + value), str(Decimal(old_weighted) + weighted))
            writes += 1
        return writes

    def change_stage(self, principal: Principal, before: Deal, after: Deal, *, event_text: str) -> Deal:
        """The stage change, its history event and counters at once."""
        event = system_event(principal, "deal", after.id, event_text)
        return self.update(before, after, by=principal.user_id, extra=lambda: add_event(self._db, event))

    def query_deals(
        self, tenant_id: str, facet: str, page: PageRequest, *, close_range: tuple[str, str] | None, visible: Visible
    ) -> Slice[Deal]:
        if close_range is not None:
            return self.query(
                tenant_id, "close", page, sort=SortKey.between(*close_range), newest_first=False, visible=visible
            )
        return self.query(tenant_id, facet, page, visible=visible)

    # ---- pipeline ----

    def aggregates(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every (scope, stage, currency) sum, as the table's items read them."""
        found = []
        for (scope, stage_id, currency), (count, value, weighted) in self._db.table(tenant_id, PIPELINE).items():
            key = keys.pipeline_aggregate(tenant_id, scope, stage_id, currency)
            found.append({**key, "count": count, "value": Decimal(value), "weighted": Decimal(weighted)})
        return sorted(found, key=lambda item: item["sk"])

    # ---- projects (DEA-7) ----

    def add_project(self, deal: Deal, project: Project) -> None:
        with self._db.transaction():
            projects = self._db.table(project.tenant_id, PROJECTS)
            links = self._db.table(deal.tenant_id, PROJECT_LINKS)
            if project.id in projects or (deal.id, project.id) in links:
                raise Conflict("The record already exists.")
            projects[project.id] = frozen(project)
            links[(deal.id, project.id)] = project.title
            if self.get(deal.tenant_id, deal.id) is None:
                raise NotFound("The deal does not exist.")

    def projects(self, tenant_id: str, deal_id: str, page: PageRequest) -> Slice[Project]:
        links = [
            (project_id, project_id)
            for (deal, project_id) in self._db.table(tenant_id, PROJECT_LINKS)
            if deal == deal_id
        ]
        found = paged(links, page, partition=f"projects#{deal_id}")
        projects = self._db.table(tenant_id, PROJECTS)
        return Slice([thawed(Project, projects[p]) for p in found.items if p in projects], found.after)

    def unlink_projects(self, tenant_id: str, deal_id: str) -> int:
        links = self._db.table(tenant_id, PROJECT_LINKS)
        projects = self._db.table(tenant_id, PROJECTS)
        count = 0
        for deal, project_id in sorted(k for k in links if k[0] == deal_id):
            with self._db.transaction():
                del links[(deal, project_id)]
                if project_id in projects:
                    project = thawed(Project, projects[project_id])
                    projects[project_id] = frozen(
                        project.model_copy(update={"deal_id": None, "version": project.version + 1})
                    )
            count += 1
        return count
