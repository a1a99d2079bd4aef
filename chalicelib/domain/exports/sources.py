"""What an export writes, one CSV per entity (ADM-1): the extension point.

A source says its file name, which callers may use it, how its list is
filtered (the same query model as its list endpoint), its columns, and its
rows a page at a time, read through the feature's own service, so the
caller's access decides what is in the file exactly as it decides what a
list answers. ``page`` answers the rows and the position after them (None
at the end); the position is a small dict kept in the export's checkpoint.

A later feature adds its source in bootstrap/container.py ``export_sources``
(the invoices issue: an ``InvoiceRows`` with ``admin_only = True`` and its
own columns); the export, the ZIP and the job do not change.

Contacts are written in the layout of a Google Contacts export ("First Name",
"E-mail 1 - Label", "E-mail 1 - Value", "Address 1 - Street", ...) plus this
CRM's fields, so the import's suggested mapping reads an export back
unchanged (and other tools read it too). Details beyond the slots go into
"More Details" as JSON, so nothing is lost.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from pydantic import BaseModel

from chalicelib.domain.cases.models import CaseQuery
from chalicelib.domain.contacts.models import ContactQuery
from chalicelib.domain.deals.models import DealQuery
from chalicelib.domain.invoices.models import InvoiceQuery
from chalicelib.domain.records.files import ParentKind, ParentLink
from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.tasks.models import TaskQuery

PAGE = 200
Position = dict[str, Any] | None
# Detail slots per type: (type, header word, slots).
SLOTS = (("email", "E-mail", 5), ("phone", "Phone", 5), ("website", "Website", 3), ("social", "Social", 3))
ADDRESS_SLOTS = 3
ADDRESS_PARTS = (
    ("street", "Street"),
    ("city", "City"),
    ("state", "Region"),
    ("zip", "Postal Code"),
    ("country", "Country"),
)
CUSTOM_SUFFIX = " (custom field)"


class Source(Protocol):
    filename: str
    admin_only: bool
    query: type[BaseModel] | None

    def columns(self, principal: Principal) -> list[str]: ...

    def page(
        self, principal: Principal, filters: dict[str, Any], after: Position
    ) -> tuple[list[list[str]], Position]: ...


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return iso(value) if hasattr(value, "hour") else value.isoformat()
    return str(value)


def _tags(tags: list[str]) -> str:
    """Google's separator; a lone tag with a comma keeps one, so the import splits on it only."""
    if any("," in t or ";" in t for t in tags):
        return " ::: ".join(tags) + (" :::" if len(tags) == 1 else "")
    return " ::: ".join(tags)


class _Names:
    """Users' e-mail addresses and settings entries' names, read once per export step."""

    def __init__(self, identity: Any, lists: Any):
        self._identity = identity
        self._lists = lists
        self._users: dict[str, str] | None = None
        self._entries: dict[str, dict[str, str]] = {}

    def user(self, principal: Principal, user_id: str | None) -> str:
        if not user_id:
            return ""
        if self._users is None:
            self._users, after = {}, None
            while True:
                page = self._identity.list_users(principal.tenant_id, PageRequest(limit=200, after=after))
                self._users.update({u.id: u.email for u in page.items})
                if page.after is None:
                    break
                after = page.after
        return self._users.get(user_id, user_id)

    def entry(self, principal: Principal, list_name: str, entry_id: str | None) -> str:
        if not entry_id:
            return ""
        if list_name not in self._entries:
            self._entries[list_name] = {e.id: e.name for e in self._lists.list(principal, list_name)}
        return self._entries[list_name].get(entry_id, entry_id)


def _custom_fields(custom_fields: Any, principal: Principal, scope: str) -> list[Any]:
    return [f for f in custom_fields.for_scope(principal, scope) if f.type.value != "heading"]


class ContactRows:
    filename = "contacts.csv"
    admin_only = False
    query = ContactQuery

    def __init__(self, contacts: Any, custom_fields: Any, identity: Any, lists: Any):
        self._contacts = contacts
        self._custom_fields = custom_fields
        self._identity = identity
        self._lists = lists

    def columns(self, principal: Principal) -> list[str]:
        head = [
            "ID",
            "Kind",
            "First Name",
            "Last Name",
            "Organization Name",
            "Company ID",
            "Organization Title",
            "Notes",
            "Labels",
            "Contact Type",
            "Temperature",
            "Currency",
            "Managers",
            "Access",
        ]
        for _, word, slots in SLOTS:
            for n in range(1, slots + 1):
                head += [f"{word} {n} - Label", f"{word} {n} - Value"]
        for n in range(1, ADDRESS_SLOTS + 1):
            head += [f"Address {n} - Label", *(f"Address {n} - {label}" for _, label in ADDRESS_PARTS)]
        head.append("More Details")
        head += [f.label + CUSTOM_SUFFIX for f in _custom_fields(self._custom_fields, principal, "contact")]
        return head + ["Created At", "Created By", "Updated At", "Updated By"]

    def page(self, principal: Principal, filters: dict[str, Any], after: Position) -> tuple[list[list[str]], Position]:
        found = self._contacts.list(principal, ContactQuery(**filters), PageRequest(limit=PAGE, after=after))
        names = _Names(self._identity, self._lists)
        fields = _custom_fields(self._custom_fields, principal, "contact")
        return [self._row(principal, c, names, fields) for c in found.items], found.after

    def _row(self, principal: Principal, contact: Any, names: _Names, fields: list[Any]) -> list[str]:
        person = contact.kind.value == "person"
        row = [
            contact.id,
            contact.kind.value,
            contact.first_name or "",
            contact.last_name or "",
            contact.company_name or "",
            contact.company_id or "",
            contact.job_title or "",
            contact.description or "",
            _tags(contact.tags),
            names.entry(principal, "contact-types", contact.type_id),
            names.entry(principal, "temperatures", contact.temperature_id),
            contact.currency or "",
            ", ".join(names.user(principal, m) for m in contact.managers),
            contact.access.value,
        ]
        details = list(contact.details)
        rest: list[dict[str, Any]] = []
        for kind, _, slots in SLOTS:
            of_kind = [d for d in details if d["type"] == kind]
            for n in range(slots):
                row += [of_kind[n]["category"], str(of_kind[n]["value"])] if n < len(of_kind) else ["", ""]
            rest += of_kind[slots:]
        addresses = [d for d in details if d["type"] == "address"]
        for n in range(ADDRESS_SLOTS):
            if n < len(addresses):
                value = addresses[n]["value"]
                row += [addresses[n]["category"], *(str(value.get(part, "")) for part, _ in ADDRESS_PARTS)]
            else:
                row += [""] * (1 + len(ADDRESS_PARTS))
        rest += addresses[ADDRESS_SLOTS:]
        rest_plain = [{k: d[k] for k in ("type", "category", "value")} for d in rest]
        row.append(json.dumps(rest_plain, ensure_ascii=False) if rest_plain else "")
        row += [_text(contact.custom_fields.get(f.id)) for f in fields]
        del person
        return row + [
            _text(contact.created_at),
            names.user(principal, contact.created_by),
            _text(contact.updated_at),
            names.user(principal, contact.updated_by),
        ]


class DealRows:
    filename = "deals.csv"
    admin_only = False
    query = DealQuery

    def __init__(self, deals: Any, custom_fields: Any, identity: Any, lists: Any):
        self._deals = deals
        self._custom_fields = custom_fields
        self._identity = identity
        self._lists = lists

    def columns(self, principal: Principal) -> list[str]:
        head = [
            "ID",
            "Title",
            "Description",
            "Amount",
            "Currency",
            "Bid Type",
            "Periods",
            "Expected Close Date",
            "Actual Close Date",
            "Stage",
            "Probability",
            "Responsible",
            "Contact ID",
            "Member IDs",
            "Access List",
            "Tags",
        ]
        head += [f.label + CUSTOM_SUFFIX for f in _custom_fields(self._custom_fields, principal, "deal")]
        return head + ["Created At", "Created By", "Updated At", "Updated By"]

    def page(self, principal: Principal, filters: dict[str, Any], after: Position) -> tuple[list[list[str]], Position]:
        found = self._deals.list(principal, DealQuery(**filters), PageRequest(limit=PAGE, after=after))
        names = _Names(self._identity, self._lists)
        fields = _custom_fields(self._custom_fields, principal, "deal")
        rows = []
        for deal in found.items:
            rows.append(
                [
                    deal.id,
                    deal.title,
                    deal.description or "",
                    deal.amount or "",
                    deal.currency,
                    deal.bid_type.value,
                    _text(deal.periods),
                    _text(deal.expected_close_date),
                    _text(deal.actual_close_date),
                    names.entry(principal, "deal-stages", deal.stage_id),
                    str(deal.probability),
                    names.user(principal, deal.responsible_id),
                    deal.contact_id or "",
                    ", ".join(deal.member_ids),
                    ", ".join(names.user(principal, u) for u in deal.access_list),
                    _tags(deal.tags),
                    *(_text(deal.custom_fields.get(f.id)) for f in fields),
                    _text(deal.created_at),
                    names.user(principal, deal.created_by),
                    _text(deal.updated_at),
                    names.user(principal, deal.updated_by),
                ]
            )
        return rows, found.after


class TaskRows:
    filename = "tasks.csv"
    admin_only = False
    query = TaskQuery

    def __init__(self, tasks: Any, identity: Any, lists: Any):
        self._tasks = tasks
        self._identity = identity
        self._lists = lists

    def columns(self, principal: Principal) -> list[str]:
        return [
            "ID",
            "Title",
            "Description",
            "Due At",
            "Category",
            "Responsible",
            "Contact ID",
            "Deal ID",
            "Case ID",
            "Reminder Minutes",
            "Status",
            "Closed At",
            "Created At",
            "Created By",
            "Updated At",
            "Updated By",
        ]

    def page(self, principal: Principal, filters: dict[str, Any], after: Position) -> tuple[list[list[str]], Position]:
        found = self._tasks.list(principal, TaskQuery(**filters), PageRequest(limit=PAGE, after=after))
        names = _Names(self._identity, self._lists)
        return [
            [
                t.id,
                t.title,
                t.description or "",
                _text(t.due_at),
                names.entry(principal, "task-categories", t.category_id),
                names.user(principal, t.responsible_id),
                t.contact_id or "",
                t.deal_id or "",
                t.case_id or "",
                str(t.remind_minutes),
                t.status.value,
                _text(t.closed_at),
                _text(t.created_at),
                names.user(principal, t.created_by),
                _text(t.updated_at),
                names.user(principal, t.updated_by),
            ]
            for t in found.items
        ], found.after


class CaseRows:
    filename = "cases.csv"
    admin_only = False
    query = CaseQuery

    def __init__(self, cases: Any, custom_fields: Any, identity: Any = None):
        self._cases = cases
        self._custom_fields = custom_fields

    def columns(self, principal: Principal) -> list[str]:
        head = ["ID", "Title", "Member IDs", "Access List", "Tags", "Closed", "Closed At"]
        head += [f.label + CUSTOM_SUFFIX for f in _custom_fields(self._custom_fields, principal, "case")]
        return head + ["Created At", "Created By", "Updated At", "Updated By"]

    def page(self, principal: Principal, filters: dict[str, Any], after: Position) -> tuple[list[list[str]], Position]:
        found = self._cases.list(principal, CaseQuery(**filters), PageRequest(limit=PAGE, after=after))
        fields = _custom_fields(self._custom_fields, principal, "case")
        return [
            [
                c.id,
                c.title,
                ", ".join(c.member_ids),
                ", ".join(c.access_list),
                _tags(c.tags),
                _text(c.closed),
                _text(c.closed_at),
                *(_text(c.custom_fields.get(f.id)) for f in fields),
                _text(c.created_at),
                c.created_by or "",
                _text(c.updated_at),
                c.updated_by or "",
            ]
            for c in found.items
        ], found.after


class InvoiceRows:
    """Invoices (admins): one row each with its figures (INV-8, computed from
    its lines as the invoice shows them) and its lines as JSON."""

    filename = "invoices.csv"
    admin_only = True
    query = InvoiceQuery

    def __init__(self, invoices: Any, identity: Any):
        self._invoices = invoices
        self._identity = identity

    def columns(self, principal: Principal) -> list[str]:
        return [
            "ID", "Number", "Status", "Issue Date", "Due Date", "Client ID", "Client Name", "Consignee ID",
            "Consignee Name", "Deal ID", "Currency", "Net", "Tax", "Total", "PO Number", "Terms", "Notes",
            "Lines", "Billed At", "Sent At", "Created At", "Created By", "Updated At", "Updated By",
        ]  # fmt: skip

    def page(self, principal: Principal, filters: dict[str, Any], after: Position) -> tuple[list[list[str]], Position]:
        from chalicelib.domain.invoices.service import totals_of

        tenant = self._identity.get_tenant(principal.tenant_id)
        found = self._invoices.list(principal, tenant, InvoiceQuery(**filters), PageRequest(limit=PAGE, after=after))
        rows = []
        for i in found.items:
            figures = totals_of(i)
            rows.append(
                [
                    i.id,
                    i.number,
                    _text(i.status.value),
                    _text(i.issue_date),
                    _text(i.due_date),
                    i.client_id,
                    i.client_name,
                    i.consignee_id or "",
                    i.consignee_name or "",
                    i.deal_id or "",
                    i.currency,
                    _text(figures.net),
                    _text(figures.tax_total),
                    _text(figures.total),
                    i.po_number,
                    i.terms,
                    i.notes,
                    json.dumps([line.model_dump(mode="json") for line in i.lines], ensure_ascii=False),
                    _text(i.billed_at),
                    _text(i.sent_at),
                    _text(i.created_at),
                    i.created_by or "",
                    _text(i.updated_at),
                    i.updated_by or "",
                ]
            )
        return rows, found.after


class HistoryRows:
    """Every history event of every contact, deal and case (admins): one Query
    per record, as history lives in its record's item collection."""

    filename = "history.csv"
    admin_only = True
    query = None
    _PARENTS: tuple[ParentKind, ...] = ("contact", "deal", "case")

    def __init__(self, contacts: Any, deals: Any, cases: Any, history: Any):
        self._services = {"contact": (contacts, ContactQuery), "deal": (deals, DealQuery), "case": (cases, CaseQuery)}
        self._history = history

    def columns(self, principal: Principal) -> list[str]:
        return ["ID", "Record Kind", "Record ID", "Kind", "Category ID", "Text", "Happened At", "Author ID", "File IDs"]

    def page(self, principal: Principal, filters: dict[str, Any], after: Position) -> tuple[list[list[str]], Position]:
        position = after or {"parent": 0, "after": None}
        kind = self._PARENTS[position["parent"]]
        service, query = self._services[kind]
        found = service.list(principal, query(), PageRequest(limit=PAGE, after=position.get("after")))
        rows = []
        for record in found.items:
            page_after = None
            while True:
                events = self._history.list_events(
                    principal.tenant_id, ParentLink(kind=kind, id=record.id), PageRequest(limit=200, after=page_after)
                )
                rows += [
                    [
                        e.id,
                        kind,
                        record.id,
                        e.kind.value,
                        e.category_id or "",
                        e.text,
                        _text(e.happened_at),
                        e.author_id,
                        ", ".join(e.file_ids),
                    ]
                    for e in events.items
                ]
                if events.after is None:
                    break
                page_after = events.after
        if found.after is not None:
            return rows, {"parent": position["parent"], "after": found.after}
        if position["parent"] + 1 < len(self._PARENTS):
            return rows, {"parent": position["parent"] + 1, "after": None}
        return rows, None
