"""What the deal services need from storage (storage/deals.py) and from the
settings lists (deal stages)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from chalicelib.domain.records.ports import TagRegistry
from chalicelib.domain.settings.ports import EntryReferences, EntryResolver, ListEntries
from chalicelib.domain.shared.ports import Entry, Visible

if TYPE_CHECKING:
    from chalicelib.domain.deals.models import Deal, Project
    from chalicelib.domain.shared.pagination import PageRequest, Slice
    from chalicelib.domain.shared.principal import Principal


class DealStore(Protocol):
    """Deals, their index entries, pipeline aggregates and projects."""

    def get(self, tenant_id: str, record_id: str) -> Deal | None:
        """Strongly consistent: a write is conditioned on what it reads."""
        ...

    def query_deals(
        self,
        tenant_id: str,
        facet: str,
        page: PageRequest,
        *,
        close_range: tuple[str, str] | None,
        visible: Visible,
    ) -> Slice[Deal]:
        """Newest first on ``facet``; by expected close date (oldest first) with ``close_range``."""
        ...

    def entries(self, tenant_id: str, facet: str) -> list[Entry]:
        """Every index entry of a facet (cascades, a caller's private deals)."""
        ...

    def create(self, record: Deal, *, by: str | None) -> Deal: ...

    def update(self, before: Deal, after: Deal, *, by: str | None) -> Deal:
        """Conditional on ``before.version`` (PreconditionFailed)."""
        ...

    def change_stage(self, principal: Principal, before: Deal, after: Deal, *, event_text: str) -> Deal:
        """The update and a history system event on the deal, at once."""
        ...

    def delete(self, record: Deal, *, by: str | None, at: datetime) -> None: ...

    def tag_names(self, tenant_id: str) -> dict[str, str]: ...

    def add_project(self, deal: Deal, project: Project) -> None:
        """NotFound when the deal is gone."""
        ...

    def projects(self, tenant_id: str, deal_id: str, page: PageRequest) -> Slice[Project]: ...

    def unlink_projects(self, tenant_id: str, deal_id: str) -> int:
        """The deal's projects stay, with ``deal_id`` cleared; safe to run again."""
        ...


class PipelineStore(Protocol):
    def aggregates(self, tenant_id: str) -> list[Entry]:
        """Every (scope, stage, currency) sum: ``sk`` = ``<PUB|PRIV>#<stage>#<currency>``
        with ``count``, ``value`` and ``weighted``."""
        ...

    def entries(self, tenant_id: str, facet: str) -> list[Entry]: ...


class DealStorage(DealStore, PipelineStore, TagRegistry, Protocol):
    """The whole deal adapter, as the composition root wires it."""


class DealStages(ListEntries, EntryReferences, EntryResolver, Protocol):
    """What deals read of the deal-stages list."""
