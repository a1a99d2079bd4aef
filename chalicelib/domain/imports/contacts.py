"""Writing contact rows (IMP-1..3, CON-14): through the Contacts service.

Each row is one person or company, created or matched:
- match keys in the order the import names them: ``id`` (this CRM's id, a
  re-imported export), ``email`` (case-insensitive), ``phone`` (compared as
  E.164 in the tenant's region), ``external_id`` (the source system's id,
  remembered on the first import). Only contacts the importer may read are
  matched; a key that finds two different contacts is an ambiguous row.
  Rows of the same file match each other the same way, since each earlier
  row is in the table (or, in a dry run, in the import's seen keys).
- on a match: ``skip``; ``update`` in place (new version through
  ``Contacts.update``, old values in the change log; empty cells keep what
  the contact has, details and tags are added to the contact's, a note is
  added once); or ``create`` another contact anyway.
- a person's company name finds the company of that exact name the
  importer can see, or creates it once per import (its id derives from the
  name, so a retry or a later row finds it).
- every created or updated contact carries the row's marker in its own
  transaction (the import's retry guard) and, with an external id, the
  reference that finds it on the next import.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from chalicelib.domain.contacts.details import ContactDetail, normalise_details
from chalicelib.domain.contacts.models import (
    MAX_TAGS,
    Contact,
    ContactChanges,
    ContactKind,
    NewContact,
    clean_tags,
    entry_access,
)
from chalicelib.domain.contacts.service import region
from chalicelib.domain.imports.fields import CONTACT_TARGETS
from chalicelib.domain.imports.models import OnDuplicate
from chalicelib.domain.imports.ports import ContactIndex, ImportStore, Outcome, Row, WriterContext
from chalicelib.domain.imports.rows import Values, boolean, calendar_date, invalid, read_row
from chalicelib.domain.records.history import HistoryFilter, HistoryKind, system_event
from chalicelib.domain.settings.custom_fields import FieldType
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import ContactShare, Operation
from chalicelib.domain.shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.text import fold

_KINDS = {
    "person": ContactKind.PERSON,
    "p": ContactKind.PERSON,
    "person/kontakt": ContactKind.PERSON,
    "kontakt": ContactKind.PERSON,
    "company": ContactKind.COMPANY,
    "c": ContactKind.COMPANY,
    "firma": ContactKind.COMPANY,
    "unternehmen": ContactKind.COMPANY,
    "organisation": ContactKind.COMPANY,
    "organization": ContactKind.COMPANY,
}
_ACCESS = {
    "private": ContactShare.PRIVATE,
    "privat": ContactShare.PRIVATE,
    "shared_read": ContactShare.SHARED_READ,
    "shared read": ContactShare.SHARED_READ,
    "shared_write": ContactShare.SHARED_WRITE,
    "shared write": ContactShare.SHARED_WRITE,
}
# Scalar fields a row may set on a contact, compared as the model normalises them.
_PLAIN = ("first_name", "last_name", "job_title", "description", "currency", "type_id", "temperature_id")


def _problem(message: str, field_name: str = "row") -> ValidationFailed:
    return invalid(field_name, message)


class ContactRows:
    def __init__(
        self,
        context: WriterContext,
        contacts: Any,
        index: ContactIndex,
        store: ImportStore,
        *,
        users: Any,
        lists: Any,
        custom_fields: Any,
        history: Any,
        notifier: Any,
        derive_id: Any,
    ):
        self._ctx = context
        self._contacts = contacts
        self._index = index
        self._store = store
        self._users = users  # identity: list_users
        self._lists = lists  # settings lists (memoised)
        self._custom_fields = custom_fields  # CustomFields (memoised)
        self._history = history
        self._notifier = notifier  # CollectingNotifier
        self._derive = derive_id
        record = context.record
        assert record.options is not None
        self._options = record.options
        self._principal = context.principal
        self._tenant = context.tenant
        self._tenant_id = record.tenant_id
        self._region = region(context.tenant)
        self._readable = access.readable(context.principal)
        self._companies: dict[str, tuple[str, bool]] = {}
        self._user_ids: dict[str, str] | None = None

    def managed(self) -> dict[str, int]:
        return dict(self._notifier.counts)

    # ---- one row ----

    def write(self, row: Row) -> Outcome:
        values = read_row(row.cells, self._options.mapping, CONTACT_TARGETS)
        if values.empty:
            return Outcome("failed", reason="The row has no value in the mapped columns.")
        kind = self._kind(values)
        details = self._details(values)
        match = None
        if self._options.on_duplicate != OnDuplicate.CREATE:
            match = self._match(values, details)
        if match is None:
            return self._create(row, values, kind, details)
        if self._options.on_duplicate == OnDuplicate.SKIP:
            return Outcome("skipped", match)
        return self._update(row, values, kind, details, match)

    # ---- matching ----

    def _keys(self, values: Values, details: list[dict[str, Any]]) -> list[tuple[str, str]]:
        keys: list[tuple[str, str]] = []
        for key in self._options.match_on or []:
            if key == "id" and values.get("id"):
                keys.append(("id", values.scalars["id"]))
            elif key == "email":
                keys += [("email", str(d["value"]).lower()) for d in details if d["type"] == "email"]
            elif key == "phone":
                keys += [("phone", str(d["value"])) for d in details if d["type"] == "phone"]
            elif key == "external_id" and values.get("external_id"):
                keys.append(("external_id", values.scalars["external_id"]))
            elif key == "name":
                keys += self._name_key(values)
        return keys

    def _name_key(self, values: Values) -> list[tuple[str, str]]:
        """("name", "<kind>:<sort name>"): the key Contact.sort_name gives the contact the row makes."""
        kind = self._kind(values)
        if kind == ContactKind.PERSON:
            first, last = _person_names(values)
            if not (first and last):
                return []
            name = fold(f"{last} {first}")
        else:
            name = fold(values.get("company") or values.get("full_name") or values.get("last_name") or "")
        return [("name", f"{kind.value}:{name}")] if name.strip() else []

    def _match(self, values: Values, details: list[dict[str, Any]]) -> str | None:
        """The id of the contact the row is a duplicate of (None: no match)."""
        keys = self._keys(values, details)
        if self._ctx.record.dry_run and keys:
            seen = self._ctx.seen([f"{k}:{v}" for k, v in keys])
            for k, v in keys:
                if f"{k}:{v}" in seen:
                    return seen[f"{k}:{v}"][1]
        for key, value in keys:
            found = self._find(key, value)
            if len(found) > 1:
                raise _problem(f"The row's {key} {value} matches {len(found)} contacts: " + ", ".join(sorted(found)))
            if found:
                return found[0]
        return None

    def _find(self, key: str, value: str) -> list[str]:
        if key == "id":
            return [value] if self._visible(value) else []
        if key == "external_id":
            found = self._store.external_ref(self._tenant_id, "contacts", value)
            return [found] if found and self._visible(found) else []
        entries = self._index.by_email(self._tenant_id, value) if key == "email" else []
        if key == "phone":
            entries = self._index.by_phone(self._tenant_id, value)
        if key == "name":
            kind, _, name = value.partition(":")
            entries = self._index.named(self._tenant_id, kind, name)
        ids = [e["cid"] for e in entries if self._readable(entry_access(e))]
        return sorted(dict.fromkeys(ids))

    def _visible(self, contact_id: str) -> bool:
        try:
            self._contacts.get(self._principal, contact_id)
        except NotFound:
            return False
        return True

    # ---- creating ----

    def _create(self, row: Row, values: Values, kind: ContactKind, details: list[dict[str, Any]]) -> Outcome:
        record = self._ctx.record
        record_id = self._derive(record.created_at, f"{record.id}:{row.offset}")
        fields, companies = self._fields(values, kind, details, for_update=None)
        defaults = self._options.defaults
        fields.setdefault("access", defaults.access or ContactShare.PRIVATE)
        if defaults.managers and "managers" not in fields:
            fields["managers"] = list(defaults.managers)
        request = self._validated(NewContact, {"kind": kind, **fields})
        extra = [self._ctx.marker(row.offset, "created", record_id), *self._refs(values, record_id)]
        note = values.get("note")
        if note and not record.dry_run:
            extra.append(self._store.history_op(self._note(record_id, note)))
        try:
            self._contacts.create(self._principal, self._tenant, request, contact_id=record_id, extra=extra)
        except Conflict:
            if self._exists(record_id):  # an earlier attempt of this row made it
                return Outcome("created", record_id, companies_created=companies)
            raise
        if record.dry_run:
            self._remember(values, details, row.offset, record_id)
        return Outcome("created", record_id, companies_created=companies)

    def _refs(self, values: Values, record_id: str) -> list[Any]:
        external = values.get("external_id")
        if not external or self._ctx.record.dry_run:
            return []
        return [self._store.external_ref_op(self._tenant_id, "contacts", external, record_id)]

    def _remember(self, values: Values, details: list[dict[str, Any]], offset: int, record_id: str) -> None:
        keys = {f"{k}:{v}" for k, v in self._keys(values, details) if k != "id"}
        if keys:
            self._ctx.remember({k: (offset, record_id) for k in keys})

    def _exists(self, record_id: str) -> bool:
        try:
            self._contacts.get(self._principal, record_id)
        except (NotFound, Forbidden):
            return False
        return True

    def _note(self, contact_id: str, text: str) -> Any:
        return system_event(
            self._principal, "contact", contact_id, text, kind=HistoryKind.NOTE, at=self._ctx.record.started_at
        )

    # ---- updating in place ----

    def _update(
        self, row: Row, values: Values, kind: ContactKind, details: list[dict[str, Any]], contact_id: str
    ) -> Outcome:
        record = self._ctx.record
        for attempt in (1, 2):
            try:
                current = self._contacts.get(self._principal, contact_id, Operation.WRITE)
            except Forbidden:
                raise Forbidden(f"You may not change the contact {contact_id} this row matches.") from None
            if self._explicit_kind(values) not in (None, current.kind):
                raise _problem(
                    f"The row is a {self._explicit_kind(values)}, the contact {contact_id} it matches a {current.kind}."
                )
            fields, companies = self._fields(values, current.kind, details, for_update=current)
            changes = {k: v for k, v in fields.items() if _differs(current, k, v)}
            note = values.get("note")
            note_op = None
            if note and not record.dry_run and not self._has_note(contact_id, note):
                note_op = self._store.history_op(self._note(contact_id, note))
            if not changes and note_op is None:
                return Outcome("unchanged", contact_id, companies_created=companies)
            marker = self._ctx.marker(row.offset, "updated", contact_id)
            extra = [marker, *self._refs(values, contact_id), *([note_op] if note_op else [])]
            try:
                if changes:
                    self._contacts.update(
                        self._principal,
                        self._tenant,
                        contact_id,
                        self._validated(ContactChanges, changes),
                        expected_version=current.version,
                        extra=extra,
                    )
                elif not record.dry_run:
                    self._store.write_ops(extra)
            except PreconditionFailed:
                if attempt == 2:
                    raise
                continue  # changed meanwhile: read it again
            return Outcome("updated", contact_id, companies_created=companies)
        raise AssertionError("unreachable")

    def _has_note(self, contact_id: str, text: str) -> bool:
        found = self._history.list(
            self._principal, "contact", contact_id, HistoryFilter(kind=HistoryKind.NOTE), PageRequest(limit=200)
        )
        return any(event.text == text for event in found.items)

    # ---- the fields of a row ----

    def _explicit_kind(self, values: Values) -> ContactKind | None:
        raw = values.get("kind")
        if not raw:
            return None
        kind = _KINDS.get(raw.strip().casefold())
        if kind is None:
            raise _problem(f"kind {raw!r} is neither person nor company", "kind")
        return kind

    def _kind(self, values: Values) -> ContactKind:
        explicit = self._explicit_kind(values)
        if explicit is not None:
            return explicit
        named = any(values.get(n) for n in ("first_name", "last_name", "full_name", "middle_name"))
        return ContactKind.PERSON if named or not values.get("company") else ContactKind.COMPANY

    def _details(self, values: Values) -> list[dict[str, Any]]:
        """The row's details, checked and normalised as the contact will hold them."""
        raw = list(values.details)
        extra = values.get("details_json")
        if extra:
            try:
                more = json.loads(extra)
            except ValueError:
                raise _problem("is not JSON", "details_json") from None
            if not isinstance(more, list):
                raise _problem("must be a JSON list of details", "details_json")
            raw += more
        unique: dict[tuple[str, str], dict[str, Any]] = {}
        for detail in raw:
            if not isinstance(detail, dict):
                raise _problem("must be a list of objects", "details_json")
            fields = {k: v for k, v in detail.items() if k in ("type", "category", "value")}
            try:
                checked = normalise_details([ContactDetail.model_validate(fields)], self._region)[0]
            except ValidationError as err:
                raise _problem(f"{_describe(detail)}: {_first(err)}", "details") from None
            except ValidationFailed as err:
                reason = "; ".join(e.message for e in err.errors) or err.detail
                raise _problem(f"{_describe(detail)} {reason}", str(detail.get("type") or "details")) from None
            key = (checked["type"], json.dumps(checked["value"], sort_keys=True))
            unique.setdefault(key, {k: checked[k] for k in ("type", "category", "value")})
        found = list(unique.values())
        if found:
            normalise_details([ContactDetail.model_validate(d) for d in found], self._region)  # the per-type caps
        return found

    def _fields(
        self, values: Values, kind: ContactKind, details: list[dict[str, Any]], *, for_update: Contact | None
    ) -> tuple[dict[str, Any], int]:
        """The NewContact/ContactChanges fields of the row (and the companies created for it)."""
        fields: dict[str, Any] = {}
        companies = 0
        if kind == ContactKind.PERSON:
            first, last = _person_names(values)
            if first:
                fields["first_name"] = first
            if last:
                fields["last_name"] = last
            if for_update is None and not (first and last):
                missing = "first_name" if not first else "last_name"
                raise _problem("A person needs a first and a last name (or a company name for a company).", missing)
            if values.get("job_title"):
                fields["job_title"] = values.get("job_title")
            company_id = values.get("company_id")
            name = values.get("company")
            if company_id:
                fields["company_id"] = company_id
            elif name:
                if for_update is not None and for_update.company_name and fold(for_update.company_name) == fold(name):
                    pass  # already at that company
                else:
                    found, created = self._company(name)
                    fields["company_id"] = found
                    companies += int(created)
        else:
            name = values.get("company") or values.get("full_name") or values.get("last_name")
            if name:
                fields["company_name"] = name
            elif for_update is None:
                raise _problem("A company needs a name.", "company")
        if values.get("description"):
            fields["description"] = values.get("description")
        if values.get("currency"):
            fields["currency"] = values.scalars["currency"].strip().upper()
        for name, list_name in (("type", "contact-types"), ("temperature", "temperatures")):
            if values.get(name):
                fields[f"{name}_id"] = self._list_entry(list_name, values.scalars[name], name)
        if values.get("access"):
            share = _ACCESS.get(values.scalars["access"].strip().casefold())
            if share is None:
                raise _problem("must be private, shared_read or shared_write", "access")
            fields["access"] = share
        if values.lists.get("managers"):
            fields["managers"] = self._user_ids_of(values.lists["managers"])
        tags = clean_tags([*values.lists.get("tags", []), *self._options.defaults.tags])
        if for_update is not None:
            have = {fold(t) for t in for_update.tags}
            new = [t for t in tags if fold(t) not in have]
            if new:
                fields["tags"] = [*for_update.tags, *new]
        elif tags:
            fields["tags"] = tags
        if fields.get("tags") and len(fields["tags"]) > MAX_TAGS:
            raise _problem(f"A contact has at most {MAX_TAGS} tags; the row makes {len(fields['tags'])}.", "tags")
        if details:
            fields["details"] = self._merged_details(details, for_update)
        if values.custom:
            scope = kind.value
            fields["custom_fields"] = self._custom_values(scope, values.custom)
        if (
            "company_id" in fields
            and self._ctx.record.dry_run
            and fields["company_id"]
            and not self._exists(fields["company_id"])
        ):
            del fields["company_id"]  # a company the dry run would create: nothing to link yet
        return fields, companies

    def _merged_details(self, details: list[dict[str, Any]], current: Contact | None) -> list[dict[str, Any]]:
        if current is None:
            return [{k: d[k] for k in ("type", "category", "value")} for d in details]
        have = {(d["type"], json.dumps(d["value"], sort_keys=True)) for d in current.details}
        new = [d for d in details if (d["type"], json.dumps(d["value"], sort_keys=True)) not in have]
        if not new:
            return list(current.details)
        return [*current.details, *({k: d[k] for k in ("type", "category", "value")} for d in new)]

    def _company(self, name: str) -> tuple[str, bool]:
        """The visible company of this exact name, or one created for the import."""
        key = fold(name)
        if key in self._companies:
            return self._companies[key][0], False
        readable = [e for e in self._index.companies_named(self._tenant_id, name) if self._readable(entry_access(e))]
        if readable:
            found = min(e["cid"] for e in readable)
            self._companies[key] = (found, False)
            return found, False
        record = self._ctx.record
        company_id = self._derive(record.created_at, f"{record.id}:company:{key}")
        created = True
        if record.dry_run:
            seen = self._ctx.seen([f"company:{key}"])
            created = f"company:{key}" not in seen
            if created:
                self._ctx.remember({f"company:{key}": (0, company_id)})
        else:
            defaults = self._options.defaults
            fields: dict[str, Any] = {"kind": ContactKind.COMPANY, "company_name": name}
            fields["access"] = defaults.access or ContactShare.PRIVATE
            if defaults.managers:
                fields["managers"] = list(defaults.managers)
            try:
                self._contacts.create(
                    self._principal, self._tenant, self._validated(NewContact, fields), contact_id=company_id
                )
            except Conflict:
                created = False  # an earlier row (or attempt) of this import made it
        self._companies[key] = (company_id, False)
        return company_id, created

    def _list_entry(self, list_name: str, name: str, field_name: str) -> str:
        wanted = name.strip()
        for entry in self._lists.list(self._principal, list_name):
            if entry.id == wanted or fold(entry.name) == fold(wanted):
                return str(entry.id)
        raise _problem(f"{wanted!r} is not one of the tenant's {list_name}", field_name)

    def _user_ids_of(self, names: list[str]) -> list[str]:
        if self._user_ids is None:
            self._user_ids = {}
            after = None
            while True:
                page = self._users.list_users(self._tenant_id, PageRequest(limit=200, after=after))
                for user in page.items:
                    self._user_ids[user.id] = user.id
                    self._user_ids[user.email.lower()] = user.id
                if page.after is None:
                    break
                after = page.after
        ids = []
        for name in names:
            found = self._user_ids.get(name.strip().lower()) or self._user_ids.get(name.strip())
            if found is None:
                raise _problem(f"{name!r} is not a user of this tenant", "managers")
            ids.append(found)
        return list(dict.fromkeys(ids))

    def _custom_values(self, scope: str, raw: dict[str, str]) -> dict[str, Any]:
        definitions = {f.id: f for f in self._custom_fields.for_scope(self._principal, scope)}
        typed: dict[str, Any] = {}
        for field_id, text in raw.items():
            definition = definitions.get(field_id)
            if definition is None:
                raise _problem(f"the custom field {field_id} does not apply to a {scope}", "custom_fields")
            label = f"custom field {definition.label}"
            if definition.type == FieldType.CHECKBOX:
                typed[field_id] = boolean(label, text)
            elif definition.type == FieldType.DATE:
                typed[field_id] = calendar_date(label, text).isoformat()
            elif definition.type == FieldType.SELECT:
                typed[field_id] = next((o for o in definition.options if o.casefold() == text.casefold()), text)
            elif definition.type != FieldType.HEADING:
                typed[field_id] = text
        return typed

    @staticmethod
    def _validated(model: Any, fields: dict[str, Any]) -> Any:
        try:
            return model.model_validate(fields)
        except ValidationError as err:
            raise _problem(_first(err)) from None


def _first(err: ValidationError) -> str:
    problems = []
    for item in err.errors(include_url=False, include_input=False)[:3]:
        where = ".".join(str(p) for p in item.get("loc", ()))
        problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid")))
    return "; ".join(problems)


def _describe(detail: dict[str, Any]) -> str:
    value = detail.get("value")
    shown = ", ".join(str(v) for v in value.values() if v) if isinstance(value, dict) else str(value)
    return f"{detail.get('type', 'detail')} {shown!r}"


def _differs(current: Contact, name: str, value: Any) -> bool:
    if name == "custom_fields":
        return any(current.custom_fields.get(k) != v for k, v in value.items())
    if name == "details":
        return bool(value != current.details)
    if name == "managers":
        return set(value) != set(current.managers)
    if name == "tags":
        return list(value) != list(current.tags)
    if name == "access":
        return ContactShare(value) != current.access
    have = getattr(current, name, None)
    if isinstance(value, str) and name not in ("description",):
        return " ".join(value.split()) != (have or "")
    return bool(value != have)


def _person_names(values: Values) -> tuple[str, str]:
    """A person's first (with middle) and last name from the row: named
    columns, or a full name ("Anna Lang", "Lang, Anna")."""
    first = " ".join(v for v in (values.get("first_name"), values.get("middle_name")) if v)
    last = values.get("last_name") or ""
    full = values.get("full_name")
    if full and not (first or last):
        parts = full.split()
        if "," in full:  # "Müller, Anna"
            last_part, _, first_part = full.partition(",")
            first, last = first_part.strip(), last_part.strip()
        elif len(parts) > 1:
            first, last = " ".join(parts[:-1]), parts[-1]
        else:
            last = full
    return first, last
