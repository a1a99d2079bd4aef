"""What the case service needs from storage (storage/cases.py)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from chalicelib.domain.records.ports import TagRegistry
from chalicelib.domain.shared.ports import Entry, Visible

if TYPE_CHECKING:
    from chalicelib.domain.cases.models import Case
    from chalicelib.domain.shared.pagination import PageRequest, Slice
    from chalicelib.domain.shared.principal import Principal


class CaseStore(Protocol):
    def get(self, tenant_id: str, record_id: str) -> Case | None:
        """Strongly consistent: a write is conditioned on what it reads."""
        ...

    def query(self, tenant_id: str, facet: str, page: PageRequest, *, visible: Visible) -> Slice[Case]:
        """Newest first on the facet (all, closed#<true|false>, tag#<folded>, contact#<id>)."""
        ...

    def entries(self, tenant_id: str, facet: str) -> list[Entry]: ...

    def create(self, record: Case, *, by: str | None) -> Case: ...

    def update(self, before: Case, after: Case, *, by: str | None) -> Case:
        """Conditional on ``before.version`` (PreconditionFailed)."""
        ...

    def save_with_event(self, principal: Principal, before: Case, after: Case, *, event_text: str) -> Case:
        """The update and a history system event on the case, at once."""
        ...

    def delete(self, record: Case, *, by: str | None, at: datetime) -> None: ...

    def tag_names(self, tenant_id: str) -> dict[str, str]: ...


class CaseStorage(CaseStore, TagRegistry, Protocol):
    """The whole case adapter, as the composition root wires it."""
