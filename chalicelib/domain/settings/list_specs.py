"""The five settings lists' specs (what differs between them: domain/settings/lists.py
has the rules), apart from lists.py so that the settings routes, generated from the
specs, are made at import without creating the lists' pydantic models: a spec names
its request models lazily (cold start, chalicelib/lazy.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.lazy import lazy_imports

if TYPE_CHECKING:
    from pydantic import BaseModel

with lazy_imports():
    from chalicelib.domain.settings.lists import (
        ContactTypeChanges,
        DealStageChanges,
        HistoryCategoryChanges,
        NewContactType,
        NewDealStage,
        NewHistoryCategory,
        NewTaskCategory,
        NewTemperature,
        TaskCategoryChanges,
        TemperatureChanges,
    )


@dataclass(frozen=True)
class ListSpec:
    name: str  # URL segment and storage name, e.g. "deal-stages"
    title: str  # "deal stage", for messages
    reference_field: str  # what records pointing at an entry call it
    new: type[BaseModel]
    changes: type[BaseModel]
    defaults: tuple[dict[str, Any], ...]
    extras: tuple[str, ...] = ()  # fields besides the name
    removable: tuple[str, ...] = ()  # extras that PATCH null removes (others: null = unchanged)
    # Each of kept_values of the field `kept` must keep at least one entry.
    kept: str | None = None
    kept_values: tuple[str, ...] = ()
    # In use, it may still be deleted by naming a replacement.
    replaceable: bool = False

    def counter(self, value: object) -> str | None:
        """The list counter for entries with this value of the kept field."""
        if self.kept is None or value is None or str(value) not in self.kept_values:
            return None
        return f"{self.kept}_{value}"

    def counters_of(self, entries: Iterable[dict[str, Any]]) -> dict[str, int]:
        counts = {"count": 0, **{f"{self.kept}_{v}": 0 for v in self.kept_values}}
        for entry in entries:
            counts["count"] += 1
            name = self.counter(entry.get(self.kept)) if self.kept else None
            if name:
                counts[name] += 1
        return counts


def _names(*names: str) -> tuple[dict[str, Any], ...]:
    return tuple({"name": n} for n in names)


LIST_SPECS: dict[str, ListSpec] = {
    spec.name: spec
    for spec in (
        ListSpec(
            "contact-types",
            "contact type",
            "type_id",
            NewContactType,
            ContactTypeChanges,
            _names("Client", "Supplier", "Partner", "Competitor"),
        ),
        ListSpec(
            "temperatures",
            "temperature",
            "temperature_id",
            NewTemperature,
            TemperatureChanges,
            (
                {"name": "Cold", "color": "#6fa8dc"},
                {"name": "Warm", "color": "#f6b26b"},
                {"name": "Hot", "color": "#e06666"},
            ),
            extras=("color",),
        ),
        ListSpec(
            "history-categories",
            "history category",
            "category_id",
            NewHistoryCategory,
            HistoryCategoryChanges,
            _names("Note", "E-mail", "Phone call", "Appointment"),
        ),
        ListSpec(
            "task-categories",
            "task category",
            "category_id",
            NewTaskCategory,
            TaskCategoryChanges,
            tuple(
                {"name": n, "icon": i}
                for n, i in (
                    ("Phone call", "phone"),
                    ("Opportunity", "opportunity"),
                    ("Demo", "demo"),
                    ("E-mail", "email"),
                    ("Fax", "fax"),
                    ("Follow-up", "follow-up"),
                    ("Lunch", "lunch"),
                    ("Appointment", "appointment"),
                    ("Note", "note"),
                    ("Delivery", "delivery"),
                    ("Social networks", "social-networks"),
                    ("Thank-you", "thank-you"),
                )
            ),
            extras=("icon",),
            removable=("icon",),
            replaceable=True,
        ),
        ListSpec(
            "deal-stages",
            "deal stage",
            "stage_id",
            NewDealStage,
            DealStageChanges,
            tuple(
                {"name": n, "probability": p, "color": c, "status": s}
                for n, p, c, s in (
                    ("Initial contact", 1, "#cfe2f3", "open"),
                    ("Initial fit criteria", 2, "#9fc5e8", "open"),
                    ("Suspect", 3, "#6fa8dc", "open"),
                    ("Need assessment", 20, "#3d85c6", "open"),
                    ("Qualified prospect", 50, "#0b5394", "open"),
                    ("Proposal", 75, "#674ea7", "open"),
                    ("Negotiations", 90, "#351c75", "open"),
                    ("Closed won", 100, "#6aa84f", "won"),
                    ("Closed lost", 0, "#cc0000", "lost"),
                )
            ),
            extras=("probability", "color", "status"),
            kept="status",
            kept_values=("won", "lost"),
        ),
    )
}
