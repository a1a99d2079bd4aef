"""Writing deal, task and case rows (IMP-1): through the Deals, Tasks and
Cases services, like contacts (domain/imports/contacts.py).

Rows match an existing record by ``id`` (this CRM's, a re-imported export)
or ``external_id`` (the source system's, remembered on the first import).
Names are resolved as a user would pick them: a stage, task category or
user by name, e-mail address or id; a contact by id or e-mail address.
Updating in place sends only what differs; a deal's stage moves through
the stage change (DEA-4: probability, close date, history), a case's
``closed`` through close/reopen (CAS-4).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from chalicelib.domain.cases.models import CaseChanges, NewCase
from chalicelib.domain.contacts.models import clean_tags, entry_access
from chalicelib.domain.deals.models import DealChanges, NewDeal, StageChange
from chalicelib.domain.imports.fields import TARGETS
from chalicelib.domain.imports.models import OnDuplicate
from chalicelib.domain.imports.ports import ContactIndex, ImportStore, Outcome, Row, WriterContext
from chalicelib.domain.imports.rows import Values, boolean, calendar_date, decimal_text, invalid, read_row, whole_number
from chalicelib.domain.settings.custom_fields import FieldType
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import Operation
from chalicelib.domain.shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.text import fold
from chalicelib.domain.tasks.models import NewTask, TaskChanges

_MODELS: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "deals": (NewDeal, DealChanges),
    "tasks": (NewTask, TaskChanges),
    "cases": (NewCase, CaseChanges),
}
_LISTS = {"stage": "deal-stages", "category": "task-categories"}
_ULID_LENGTH = 26


class RecordRows:
    def __init__(
        self,
        context: WriterContext,
        service: Any,
        store: ImportStore,
        *,
        users: Any,
        lists: Any,
        custom_fields: Any,
        contacts: Any,
        contact_index: ContactIndex,
        notifier: Any,
        derive_id: Any,
    ):
        self._ctx = context
        self._service = service
        self._store = store
        self._users = users
        self._lists = lists
        self._custom_fields = custom_fields
        self._contacts = contacts
        self._index = contact_index
        self._notifier = notifier
        self._derive = derive_id
        record = context.record
        assert record.options is not None
        self._options = record.options
        self._entity = record.entity.value
        self._principal = context.principal
        self._tenant = context.tenant
        self._user_ids: dict[str, str] | None = None

    def managed(self) -> dict[str, int]:
        return {}  # deals and cases tell listed users themselves; an import lists nobody

    def write(self, row: Row) -> Outcome:
        values = read_row(row.cells, self._options.mapping, TARGETS[self._entity])
        if values.empty:
            return Outcome("failed", reason="The row has no value in the mapped columns.")
        match = None if self._options.on_duplicate == OnDuplicate.CREATE else self._match(values)
        if match is None:
            return self._create(row, values)
        if self._options.on_duplicate == OnDuplicate.SKIP:
            return Outcome("skipped", match)
        return self._update(row, values, match)

    # ---- matching ----

    def _match(self, values: Values) -> str | None:
        record = self._ctx.record
        for key in self._options.match_on or []:
            value = values.get(key) if key in ("id", "external_id") else None
            if not value:
                continue
            if record.dry_run:
                seen = self._ctx.seen([f"{key}:{value}"])
                if f"{key}:{value}" in seen:
                    return seen[f"{key}:{value}"][1]
            found = value if key == "id" else self._store.external_ref(record.tenant_id, self._entity, value)
            if found and self._visible(found):
                return found
        return None

    def _visible(self, record_id: str) -> bool:
        try:
            self._service.get(self._principal, record_id)
        except NotFound:
            return False
        return True

    # ---- writing ----

    def _create(self, row: Row, values: Values) -> Outcome:
        record = self._ctx.record
        record_id = self._derive(record.created_at, f"{record.id}:{row.offset}")
        fields = self._fields(values, None)
        closed = fields.pop("closed", None)
        # A task is created open; closing it is a change of its own (TSK-7), which then carries the marker.
        closing = self._entity == "tasks" and fields.pop("status", "open") == "closed"
        if self._entity == "deals" and "stage" in fields:
            fields["stage_id"] = fields.pop("stage")
        new_model = _MODELS[self._entity][0]
        request = _validated(new_model, fields)
        marker = self._ctx.marker(row.offset, "created", record_id)
        extra = [] if closing else [marker]
        external = values.get("external_id")
        if external and not record.dry_run:
            extra.append(self._store.external_ref_op(record.tenant_id, self._entity, external, record_id))
        try:
            if self._entity == "deals":
                saved = self._service.create(self._principal, self._tenant, request, record_id=record_id, extra=extra)
            else:
                saved = self._service.create(self._principal, request, record_id=record_id, extra=extra)
        except Conflict:
            if not self._visible(record_id):
                raise
            if not closing:
                return Outcome("created", record_id)
            saved = self._service.get(self._principal, record_id)  # made by an earlier attempt, not yet closed
        if closing and not record.dry_run and saved.status.value != "closed":
            changes = TaskChanges(status="closed")
            self._service.update(self._principal, record_id, changes, expected_version=saved.version, extra=[marker])
        if closed and self._entity == "cases" and not record.dry_run:
            self._service.set_closed(self._principal, saved.id, True, expected_version=saved.version)
        if record.dry_run:
            keys = {f"{k}:{values.get(k)}": (row.offset, record_id) for k in ("external_id",) if values.get(k)}
            if keys:
                self._ctx.remember(keys)
        return Outcome("created", record_id)

    def _update(self, row: Row, values: Values, record_id: str) -> Outcome:
        record = self._ctx.record
        for attempt in (1, 2):
            try:
                current = self._service.get(self._principal, record_id, Operation.WRITE)
            except Forbidden:
                raise Forbidden(f"You may not change the {self._entity[:-1]} {record_id} this row matches.") from None
            fields = self._fields(values, current)
            stage = fields.pop("stage", None)
            closed = fields.pop("closed", None)
            changes = {k: v for k, v in fields.items() if _differs(getattr(current, k, None), v)}
            moves_stage = stage is not None and stage != current.stage_id
            moves_closed = closed is not None and closed != current.closed
            if not (changes or moves_stage or moves_closed):
                return Outcome("unchanged", record_id)
            marker = self._ctx.marker(row.offset, "updated", record_id)
            try:
                version = current.version
                if moves_stage:
                    moved = self._service.change_stage(
                        self._principal, self._tenant, record_id, StageChange(stage_id=stage), expected_version=version
                    )
                    version = moved.version
                if moves_closed:
                    moved = self._service.set_closed(self._principal, record_id, closed, expected_version=version)
                    version = moved.version
                if changes:
                    model = _MODELS[self._entity][1]
                    self._service.update(
                        self._principal, record_id, _validated(model, changes), expected_version=version, extra=[marker]
                    )
                elif not record.dry_run:
                    self._store.write_ops([marker])
            except PreconditionFailed:
                if attempt == 2:
                    raise
                continue
            return Outcome("updated", record_id)
        raise AssertionError("unreachable")

    # ---- the fields of a row ----

    def _fields(self, values: Values, current: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        text = values.scalars
        defaults = self._options.defaults
        if text.get("title"):
            fields["title"] = text["title"]
        if text.get("description"):
            fields["description"] = text["description"]
        if self._entity == "deals":
            if text.get("amount"):
                fields["amount"] = decimal_text("amount", text["amount"])
            if text.get("currency"):
                fields["currency"] = text["currency"].strip().upper()
            if text.get("bid_type"):
                fields["bid_type"] = text["bid_type"].strip().lower()
            if text.get("periods"):
                fields["periods"] = whole_number("periods", text["periods"])
            if text.get("expected_close_date"):
                fields["expected_close_date"] = calendar_date("expected_close_date", text["expected_close_date"])
            if text.get("probability"):
                fields["probability"] = whole_number("probability", text["probability"].rstrip("% "))
            if text.get("stage"):
                fields["stage"] = self._entry("stage", text["stage"])
        if self._entity == "tasks":
            if text.get("due_at"):
                fields["due_at"] = self._moment(text["due_at"])
            if text.get("category"):
                fields["category_id"] = self._entry("category", text["category"])
            for link in ("deal", "case"):
                if text.get(link):
                    fields[f"{link}_id"] = text[link].strip()
            if text.get("remind_minutes"):
                fields["remind_minutes"] = whole_number("remind_minutes", text["remind_minutes"])
            if text.get("status"):
                fields["status"] = text["status"].strip().lower()
        if self._entity in ("deals", "tasks"):
            responsible = text.get("responsible") or (defaults.responsible_id if current is None else None)
            if responsible:
                fields["responsible_id"] = self._user(responsible)
            if text.get("contact"):
                fields["contact_id"] = self._contact(text["contact"])
        if self._entity == "cases":
            if values.lists.get("members"):
                members = [self._contact(m) for m in values.lists["members"]]
                fields["member_ids"] = list(dict.fromkeys([*(current.member_ids if current else []), *members]))
            if text.get("closed"):
                fields["closed"] = boolean("closed", text["closed"])
        if self._entity in ("deals", "cases"):
            tags = clean_tags([*values.lists.get("tags", []), *defaults.tags])
            if current is not None:
                have = {fold(t) for t in current.tags}
                new = [t for t in tags if fold(t) not in have]
                if new:
                    fields["tags"] = [*current.tags, *new]
            elif tags:
                fields["tags"] = tags
            if values.custom:
                fields["custom_fields"] = self._custom(values.custom)
        return fields

    def _entry(self, target: str, name: str) -> str:
        wanted = name.strip()
        for entry in self._lists.list(self._principal, _LISTS[target]):
            if entry.id == wanted or fold(entry.name) == fold(wanted):
                return str(entry.id)
        raise invalid(target, f"{wanted!r} is not one of the tenant's {_LISTS[target]}")

    def _user(self, name: str) -> str:
        if self._user_ids is None:
            self._user_ids, after = {}, None
            while True:
                page = self._users.list_users(self._principal.tenant_id, PageRequest(limit=200, after=after))
                for user in page.items:
                    self._user_ids[user.id] = user.id
                    self._user_ids[user.email.lower()] = user.id
                    self._user_ids.setdefault(fold(user.name), user.id)
                if page.after is None:
                    break
                after = page.after
        text = name.strip()
        found = self._user_ids.get(text) or self._user_ids.get(text.lower()) or self._user_ids.get(fold(text))
        if found is None:
            raise invalid("responsible", f"{text!r} is not a user of this tenant")
        return found

    def _contact(self, reference: str) -> str:
        text = reference.strip()
        if "@" in text:
            readable = access.readable(self._principal)
            ids = {e["cid"] for e in self._index.by_email(self._principal.tenant_id, text) if readable(entry_access(e))}
            matching = [c for c in ids if text.lower() in self._emails(c)]
            if len(matching) == 1:
                return str(matching[0])
            raise invalid("contact", f"{text!r} is the e-mail address of {len(matching)} contacts you can see")
        if len(text) == _ULID_LENGTH:
            return text
        raise invalid("contact", f"{text!r} is neither a contact id nor an e-mail address")

    def _emails(self, contact_id: str) -> list[str]:
        try:
            return list(self._contacts.get(self._principal, contact_id).emails())
        except NotFound:
            return []

    def _moment(self, raw: str) -> datetime:
        text = raw.strip()
        zone = ZoneInfo(getattr(self._tenant, "time_zone", None) or "UTC")
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            if len(text) <= 10:  # a date alone: 09:00 that day
                moment = datetime.combine(moment.date(), time(9), zone)
            return moment
        except ValueError:
            day = calendar_date("due_at", text)
            return datetime.combine(day, time(9), zone)

    def _custom(self, raw: dict[str, str]) -> dict[str, Any]:
        scope = {"deals": "deal", "cases": "case"}[self._entity]
        definitions = {f.id: f for f in self._custom_fields.for_scope(self._principal, scope)}
        typed: dict[str, Any] = {}
        for field_id, text in raw.items():
            definition = definitions.get(field_id)
            if definition is None:
                raise invalid("custom_fields", f"the custom field {field_id} does not apply to a {scope}")
            if definition.type == FieldType.CHECKBOX:
                typed[field_id] = boolean(definition.label, text)
            elif definition.type == FieldType.DATE:
                typed[field_id] = calendar_date(definition.label, text).isoformat()
            elif definition.type == FieldType.SELECT:
                typed[field_id] = next((o for o in definition.options if o.casefold() == text.casefold()), text)
            elif definition.type != FieldType.HEADING:
                typed[field_id] = text
        return typed


def _validated(model: type[BaseModel], fields: dict[str, Any]) -> Any:
    try:
        return model.model_validate(fields)
    except ValidationError as err:
        problems = []
        for item in err.errors(include_url=False, include_input=False)[:3]:
            where = ".".join(str(p) for p in item.get("loc", ()))
            problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg")))
        raise invalid("row", "; ".join(problems)) from None


def _differs(have: Any, value: Any) -> bool:
    if isinstance(value, dict) and isinstance(have, dict):  # custom fields: only those the row names
        return any(have.get(k) != v for k, v in value.items())
    if hasattr(have, "value") and isinstance(value, str):  # enums (bid type, status)
        return str(have.value) != value
    if isinstance(value, str) and isinstance(have, str) and _is_amount(value) and _is_amount(have):
        return Decimal(have) != Decimal(value)
    if isinstance(value, str) and value.strip() != value and isinstance(have, str):
        return " ".join(value.split()) != have
    return bool(have != value)


def _is_amount(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True
