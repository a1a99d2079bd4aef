"""Settings lists (SET-3, SET-4, SET-7, SET-9, SET-10): contact types,
temperatures, history categories, task categories and deal stages.

One machinery serves every list; a ``ListSpec`` says what differs (the extra
fields of an entry, the defaults of a new tenant, the rules that keep an entry
of some kind). Records point at entries by id (a contact's ``type_id``, a
deal's ``stage_id``, ...).

Rules:
- Every CRM user reads the lists; owners and admins change them (TEN-5).
- Names are unique within a list, ignoring case (a marker item written in the
  same transaction as the entry).
- New entries go to the end; ``PUT .../order`` names every id in the new order.
- An entry **in use** cannot be deleted. Each entry carries an ``in_use``
  counter that the records pointing at it change inside their own
  transaction (``storage.settings.usage_ops``); the delete is conditional on
  the counter being 0, so a record that starts using the entry meanwhile makes
  the delete fail rather than leave a dangling id.
- The **last entry** of a list cannot be deleted (a per-list counter changed
  under a condition in the delete transaction).
- Deal stages: at least one won and one lost stage remain, whether a stage is
  deleted or its status changes (per-status counters, same technique).
- Task categories: one that is in use may be deleted by naming a replacement
  (``?replace_with=<id>``, another active category). The entry is then
  *retired*: hidden from the list, closed to new uses, and it records
  ``replaced_by``, and ``CategoryReplaced`` is published: its subscriber
  (bootstrap/events.py) re-points the tasks in the background; each re-pointed
  task moves one count with ``usage_ops(old, new)``. Until then ``resolve``
  follows ``replaced_by``. While no tasks exist, task categories are never in use and a
  delete with ``replace_with`` validates the replacement and deletes.
- A new tenant gets the reference defaults (SPEC "Defaults"); lists of tenants
  created before this feature are seeded on first use. Seeding is idempotent.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Re-exported: storage and tests name the specs from here.
from chalicelib.domain.settings.list_specs import LIST_SPECS as LIST_SPECS
from chalicelib.domain.settings.list_specs import ListSpec as ListSpec
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    TemporarilyUnavailable,
    ValidationFailed,
)
from chalicelib.domain.shared.events import CategoryReplaced
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import Record

if TYPE_CHECKING:
    from chalicelib.domain.settings.ports import SettingsListStore
    from chalicelib.domain.shared.ports import EventPublisher

# A list holds at most this many entries: a reorder rewrites the moved entries
# and the list counter in one transaction (DynamoDB takes 100 operations).
MAX_ENTRIES = 90

EntryName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Color = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb", examples=["#3c78d8"])]
Icon = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$", description="An icon name, e.g. phone", examples=["phone"])
]
Probability = Annotated[int, Field(ge=0, le=100, description="Success probability in percent")]


class StageStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class EntryState(StrEnum):
    ACTIVE = "active"
    # Deleted while in use, with a replacement: waits for its records to be re-pointed.
    RETIRED = "retired"
    # Deleted (a transient tombstone; storage removes it).
    DELETED = "deleted"


# ---- request bodies, one pair per list ----


class _Body(Model):
    model_config = ConfigDict(extra="forbid")


class NewContactType(_Body):
    name: EntryName


class ContactTypeChanges(_Body):
    name: EntryName | None = None


class NewTemperature(_Body):
    name: EntryName
    color: Color


class TemperatureChanges(_Body):
    name: EntryName | None = None
    color: Color | None = None


class NewHistoryCategory(_Body):
    name: EntryName


class HistoryCategoryChanges(_Body):
    name: EntryName | None = None


class NewTaskCategory(_Body):
    name: EntryName
    icon: Icon | None = None


class TaskCategoryChanges(_Body):
    name: EntryName | None = None
    icon: Icon | None = Field(default=None, description="null removes the icon")


class NewDealStage(_Body):
    name: EntryName
    probability: Probability
    color: Color = "#3c78d8"
    status: StageStatus = StageStatus.OPEN


class DealStageChanges(_Body):
    name: EntryName | None = None
    probability: Probability | None = None
    color: Color | None = None
    status: StageStatus | None = None


class NewOrder(_Body):
    ids: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        max_length=MAX_ENTRIES, description="Every id of the list, in the new order."
    )


class ListEntry(Record):
    list_name: str
    name: str
    order: int
    in_use: int = 0
    state: EntryState = EntryState.ACTIVE
    replaced_by: str | None = None
    # Extras; which ones a list has is its spec's business.
    color: str | None = None
    icon: str | None = None
    probability: int | None = None
    status: StageStatus | None = None

    @property
    def active(self) -> bool:
        return self.state == EntryState.ACTIVE


@dataclass(frozen=True)
class ListState:
    """A whole list as storage reads it in one Query."""

    entries: list[ListEntry]  # active entries, in order
    version: int  # of the list itself (changes with create, delete, reorder)
    counters: dict[str, int] = field(default_factory=dict)  # "count" and the kept counters

    def find(self, entry_id: str) -> ListEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)


@dataclass(frozen=True)
class CounterChange:
    """What a write does to the list's counters, and the rule guarding it."""

    deltas: dict[str, int]
    guard: str | None = None  # this counter must stay >= 1 (the write requires it > 1 before)
    guard_error: Conflict | None = None


def fold(name: str) -> str:
    """Names compare ignoring case and surrounding blanks."""
    return name.strip().casefold()


def spec_of(list_name: str) -> ListSpec:
    spec = LIST_SPECS.get(list_name)
    if spec is None:
        raise NotFound(f"There is no settings list {list_name!r}.")
    return spec


class SettingsLists:
    def __init__(
        self, store: SettingsListStore, events: EventPublisher, clock: Clock = utc_now, max_entries: int = MAX_ENTRIES
    ):
        self._store = store
        self._events = events
        self._clock = clock
        self._max = max_entries

    # ---- reading (every CRM user) ----

    def list(self, principal: Principal, list_name: str) -> list[ListEntry]:
        return self._state(principal, spec_of(list_name)).entries

    def get(self, principal: Principal, list_name: str, entry_id: str) -> ListEntry:
        spec = spec_of(list_name)
        entry = self._store.get_entry(principal.tenant_id, spec.name, entry_id)
        if entry is None or not entry.active:
            raise NotFound(f"The {spec.title} does not exist.")
        return entry

    def reference(
        self, principal: Principal, list_name: str, entry_id: str, *, field_name: str | None = None
    ) -> ListEntry:
        """The active entry a record is about to point at; ValidationFailed
        naming the record's field (e.g. type_id) when there is none. The
        record's transaction re-checks it (``usage_ops``)."""
        spec = spec_of(list_name)
        entry = self._store.get_entry(principal.tenant_id, spec.name, entry_id)
        if entry is None or not entry.active:
            raise ValidationFailed(
                f"There is no such {spec.title}.",
                errors=[FieldError(field_name or spec.reference_field, f"no such {spec.title}")],
            )
        return entry

    def resolve(self, principal: Principal, list_name: str, entry_id: str) -> ListEntry | None:
        """The entry a record points at, following a retired entry to its
        replacement; None when it is gone."""
        spec = spec_of(list_name)
        seen: set[str] = set()
        entry = self._store.get_entry(principal.tenant_id, spec.name, entry_id)
        while entry is not None and entry.state == EntryState.RETIRED and entry.replaced_by and entry.id not in seen:
            seen.add(entry.id)
            entry = self._store.get_entry(principal.tenant_id, spec.name, entry.replaced_by)
        return entry if entry is not None and entry.active else None

    # ---- changing (owners and admins) ----

    def create(self, principal: Principal, list_name: str, request: BaseModel) -> ListEntry:
        spec = self._writable(principal, list_name)
        state = self._state(principal, spec, consistent=True)
        if len(state.entries) >= self._max:
            raise Conflict(f"A list holds at most {self._max} entries.")
        values = request.model_dump(mode="json", exclude_none=True)
        name = values.pop("name")
        self._ensure_name_free(spec, state, name)
        now = self._clock()
        entry = ListEntry(
            id=new_id(),
            list_name=spec.name,
            name=name,
            order=max((e.order for e in state.entries), default=0) + 1,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
            **values,
        )
        counted = spec.counter(getattr(entry, spec.kept)) if spec.kept else None
        change = CounterChange({"count": 1, **({counted: 1} if counted else {})})
        self._store.add_entry(
            principal.tenant_id,
            entry,
            change,
            max_entries=self._max,
            name_taken=self._name_taken(spec, name),
            full=Conflict(f"A list holds at most {self._max} entries."),
        )
        return entry

    def update(
        self, principal: Principal, list_name: str, entry_id: str, changes: BaseModel, *, expected_version: int
    ) -> ListEntry:
        spec = self._writable(principal, list_name)
        state = self._state(principal, spec, consistent=True)
        before = state.find(entry_id)
        if before is None:
            raise NotFound(f"The {spec.title} does not exist.")
        if before.version != expected_version:
            raise _stale(before)
        update = {
            k: v
            for k, v in changes.model_dump(mode="json", exclude_unset=True).items()
            if v is not None or k in spec.removable
        }
        if "name" in update:
            if fold(update["name"]) != fold(before.name):
                self._ensure_name_free(spec, state, update["name"])
        change = self._kept_change(spec, state, before, update.get(spec.kept) if spec.kept else None)
        after = ListEntry.model_validate(
            {**before.model_dump(), **update, "updated_at": self._clock(), "updated_by": principal.user_id}
        )
        self._store.save_entry(
            principal.tenant_id,
            before,
            after,
            change,
            expected_version=expected_version,
            name_taken=self._name_taken(spec, after.name),
        )
        return after.model_copy(update={"version": expected_version + 1})

    def delete(
        self,
        principal: Principal,
        list_name: str,
        entry_id: str,
        *,
        expected_version: int | None = None,
        replacement: str | None = None,
    ) -> None:
        """Delete an entry; ``replacement`` (task categories only) names the
        entry that takes over the records of one in use."""
        spec = self._writable(principal, list_name)
        state = self._state(principal, spec, consistent=True)
        entry = state.find(entry_id)
        if entry is None:
            raise NotFound(f"The {spec.title} does not exist.")
        if expected_version is not None and entry.version != expected_version:
            raise _stale(entry)
        if replacement is not None:
            self._check_replacement(spec, state, entry, replacement)
        if state.counters.get("count", len(state.entries)) <= 1 or len(state.entries) <= 1:
            raise Conflict(f"The last {spec.title} cannot be deleted; a list keeps at least one entry.")
        change = self._kept_change(spec, state, entry, None, deleting=True)
        change = CounterChange(
            {**change.deltas, "count": change.deltas.get("count", 0) - 1},
            change.guard or "count",
            change.guard_error or Conflict(f"The last {spec.title} cannot be deleted."),
        )
        now = self._clock()
        if entry.in_use > 0:
            if not spec.replaceable or replacement is None:
                hint = (
                    " Name a replacement with ?replace_with=<id>."
                    if spec.replaceable
                    else f" Change those records to another {spec.title} first."
                )
                raise Conflict(
                    f'The {spec.title} "{entry.name}" is used by {_records(entry.in_use)}; it cannot be deleted.{hint}'
                )
            self._store.retire_entry(
                principal.tenant_id,
                entry,
                change,
                replacement=replacement,
                at=now,
                by=principal.user_id,
                replacement_gone=_replacement_error(spec, "is no longer available"),
            )
            self._events.publish(
                CategoryReplaced(
                    tenant_id=principal.tenant_id,
                    list_name=spec.name,
                    old_id=entry.id,
                    new_id=replacement,
                    by=principal.user_id,
                )
            )
            return
        self._store.delete_entry(
            principal.tenant_id,
            entry,
            change,
            at=now,
            by=principal.user_id,
            in_use=Conflict(
                f'The {spec.title} "{entry.name}" came into use meanwhile '
                "or was changed; reload the list and try again."
            ),
        )

    def reorder(self, principal: Principal, list_name: str, ids: builtins.list[str]) -> builtins.list[ListEntry]:
        spec = self._writable(principal, list_name)
        state = self._state(principal, spec, consistent=True)
        errors: list[FieldError] = []
        seen: set[str] = set()
        for entry_id in ids:
            if entry_id in seen:
                errors.append(FieldError("ids", f"{entry_id} appears more than once"))
            seen.add(entry_id)
        current = {e.id for e in state.entries}
        errors += [FieldError("ids", f"{i} is not an entry of this list") for i in ids if i not in current]
        errors += [FieldError("ids", f"{e.id} ({e.name}) is missing") for e in state.entries if e.id not in seen]
        if errors:
            raise ValidationFailed(
                f"Send every id of the {spec.title} list exactly once, in the new order.", errors=errors
            )
        by_id = {e.id: e for e in state.entries}
        now = self._clock()
        moved = [
            (by_id[entry_id], position)
            for position, entry_id in enumerate(ids, start=1)
            if by_id[entry_id].order != position
        ]
        if moved:
            self._store.reorder(
                principal.tenant_id, spec.name, moved, list_version=state.version, at=now, by=principal.user_id
            )
        placed = {entry_id: position for position, entry_id in enumerate(ids, start=1)}
        moved_ids = {entry.id for entry, _ in moved}
        return [
            by_id[i].model_copy(
                update={"order": placed[i]}
                | (
                    {"version": by_id[i].version + 1, "updated_at": now, "updated_by": principal.user_id}
                    if i in moved_ids
                    else {}
                )
            )
            for i in ids
        ]

    # ---- seeding ----

    def seed(self, owner: Principal) -> None:
        """The reference defaults for every list, in one transaction; when some
        list exists already, list by list, leaving existing lists as they are."""
        lists = {spec.name: self._defaults(spec, owner.user_id) for spec in LIST_SPECS.values()}
        if not self._store.seed_lists(owner.tenant_id, lists):
            for spec in LIST_SPECS.values():
                self._seed_list(owner.tenant_id, spec, owner.user_id)

    def _seed_list(self, tenant_id: str, spec: ListSpec, by: str | None) -> bool:
        return self._store.seed_lists(tenant_id, {spec.name: self._defaults(spec, by)})

    def _defaults(self, spec: ListSpec, by: str | None) -> tuple[builtins.list[ListEntry], dict[str, int]]:
        now = self._clock()
        entries = [
            ListEntry(
                id=new_id(),
                list_name=spec.name,
                order=position,
                created_at=now,
                created_by=by,
                updated_at=now,
                updated_by=by,
                **values,
            )
            for position, values in enumerate(spec.defaults, start=1)
        ]
        return entries, spec.counters_of([e.model_dump(mode="json") for e in entries])

    # ---- helpers ----

    def _state(self, principal: Principal, spec: ListSpec, *, consistent: bool = False) -> ListState:
        state = self._store.load_list(principal.tenant_id, spec.name, consistent=consistent)
        if state is None:  # a tenant from before this feature: seed on first use
            self._seed_list(principal.tenant_id, spec, principal.user_id)
            state = self._store.load_list(principal.tenant_id, spec.name, consistent=True)
            if state is None:  # seeded just now (by this request or a concurrent one): cannot happen
                raise TemporarilyUnavailable(f"The {spec.title} list is being set up; please retry.")
        return state

    @staticmethod
    def _writable(principal: Principal, list_name: str) -> ListSpec:
        spec = spec_of(list_name)
        if not principal.is_admin:
            raise Forbidden("Only owners and admins change settings lists.")
        return spec

    @staticmethod
    def _name_taken(spec: ListSpec, name: str) -> Conflict:
        return Conflict(f'A {spec.title} named "{name.strip()}" exists already.')

    def _ensure_name_free(self, spec: ListSpec, state: ListState, name: str) -> None:
        if any(fold(e.name) == fold(name) for e in state.entries):
            raise self._name_taken(spec, name)

    @staticmethod
    def _kept_change(
        spec: ListSpec, state: ListState, before: ListEntry, new_value: object, *, deleting: bool = False
    ) -> CounterChange:
        """Counter moves when an entry leaves (delete) or changes its kept value."""
        if spec.kept is None:
            return CounterChange({})
        old_value = getattr(before, spec.kept)
        old_value = old_value.value if isinstance(old_value, StrEnum) else old_value
        if not deleting and (new_value is None or new_value == old_value):
            return CounterChange({})
        deltas: dict[str, int] = {}
        old_counter = spec.counter(old_value)
        new_counter = None if deleting else spec.counter(new_value)
        if old_counter:
            deltas[old_counter] = -1
        if new_counter:
            deltas[new_counter] = deltas.get(new_counter, 0) + 1
        if old_counter and deltas.get(old_counter, 0) < 0:
            error = Conflict(
                f"The last {old_value} {spec.title} cannot be "
                f"{'deleted' if deleting else 'changed to ' + str(new_value)}; "
                f"a list keeps at least one {old_value} {spec.title}."
            )
            if state.counters.get(old_counter, 0) <= 1:
                raise error
            return CounterChange(deltas, old_counter, error)
        return CounterChange(deltas)

    @staticmethod
    def _check_replacement(spec: ListSpec, state: ListState, entry: ListEntry, replacement: str) -> None:
        if not spec.replaceable:
            raise ValidationFailed(
                f"A {spec.title} is not deleted with a replacement.",
                errors=[FieldError("query.replace_with", "only task categories take one")],
            )
        if replacement == entry.id:
            raise _replacement_error(spec, "must be another entry than the one deleted")
        if state.find(replacement) is None:
            raise _replacement_error(spec, f"is not a {spec.title} of this tenant")


def _replacement_error(spec: ListSpec, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"The replacement {spec.title} {message}.", errors=[FieldError("query.replace_with", message)]
    )


def _stale(entry: ListEntry) -> PreconditionFailed:
    return PreconditionFailed(f"The entry is at version {entry.version}; reload it and apply the change again.")


def _records(count: int) -> str:
    return "1 record" if count == 1 else f"{count} records"
