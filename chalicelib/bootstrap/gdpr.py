"""THE table of where a person's data lives: per feature, how to export it
and how to erase it (issue 18, GDPR; domain/gdpr/service.py runs them in
this order). tests/unit/test_gdpr_registry.py fails when a feature package
(chalicelib/domain/<feature>) is in neither table nor in NO_PERSONAL_DATA
with a reason: a new feature that stores contact data cannot forget erasure.

Order of erasure: what needs the contact to find its data goes first
(invoices while the contact still names them, notifications before the tasks
they link to), the contact record and its change log last, so a retried job
still finds everything that is left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.domain.gdpr.service import json_file
from chalicelib.domain.shared.pagination import PageRequest

if TYPE_CHECKING:
    from chalicelib.bootstrap.container import Container

Files = Mapping[str, bytes]


def _adapter(port: object) -> Any:
    """The DynamoDB or S3 adapter behind a port: export and erasure reach the
    table and the bucket beyond what the services' ports offer."""
    return port


def _now() -> datetime:
    return datetime.now(UTC)


def _dump(records: list[Any]) -> bytes:
    return json_file([r.model_dump(mode="json", exclude={"tenant_id"}) for r in records])


# ---- contacts: the record, its index entries and search tokens, its photo, its change log ----


def _export_contact(c: "Container", tenant: str, cid: str) -> Files:
    contact = c.contact_store.get(tenant, cid)
    files: dict[str, bytes] = {"contact.json": _dump([contact]) if contact else b"[]"}
    if contact is not None and contact.photo:
        try:
            data, content_type = c.contact_photo_store.get(tenant, cid)
            files["photo." + content_type.rpartition("/")[2]] = data
        except Exception:  # no photo object (any more)
            pass
    return files


def _erase_contact(c: "Container", tenant: str, cid: str, by: str) -> None:
    from chalicelib.storage.blobs import tenant_object_key
    from chalicelib.storage.gdpr import purge_change_log, purge_objects

    purge_objects(tenant_object_key(tenant, "contacts", cid) + "/")  # its photo, every version
    c.contact_photos.forget(tenant, cid)
    contact = c.contact_store.get(tenant, cid)
    if contact is not None:
        c.contacts.unlink_company(tenant, cid)  # a company's persons keep themselves, not the link
        # The store writes the record, every index entry (facets, name words, e-mails, phones) and counters.
        c.contact_store.delete(contact, by=by, at=_now())
    purge_change_log(tenant, "contact", cid, erased_by=by, at=_now())


# ---- records: history events, files (items and every object version), the contact's change log ----


def _export_records(c: "Container", tenant: str, cid: str) -> Files:
    from chalicelib.storage.blobs import BlobStore
    from chalicelib.storage.dynamo import keys
    from chalicelib.storage.gdpr import change_log_items, partition_items
    from chalicelib.storage.records.files import object_key

    partition = keys.parent_partition(tenant, "contact", cid)
    events = partition_items(partition, keys.HISTORY_PREFIX)
    stored = partition_items(partition, keys.FILE_PREFIX)
    files: dict[str, bytes] = {
        "history.json": json_file([_plain(e) for e in events]),
        "files.json": json_file([_plain(f) for f in stored]),
        "change_log.json": json_file([_plain(e) for e in change_log_items(tenant, "contact", cid)]),
    }
    for item in stored:
        try:
            files[f"files/{item['id']}-{item.get('filename', 'file')}"] = BlobStore().get(
                object_key(tenant, item["id"])
            )[0]
        except Exception:  # never uploaded
            pass
    return files


def _erase_records(c: "Container", tenant: str, cid: str, by: str) -> None:
    from chalicelib.storage.dynamo import keys
    from chalicelib.storage.gdpr import partition_items, purge_objects
    from chalicelib.storage.records.files import object_key

    for item in partition_items(keys.parent_partition(tenant, "contact", cid), keys.FILE_PREFIX):
        purge_objects(object_key(tenant, item["id"]))  # objects first: a rerun still finds the items
    c.history_store.delete_all_for_parent(tenant, "contact", cid)


# ---- tasks: the contact's tasks go (SPEC "Defaults"), with their change logs ----


def _contact_tasks(c: "Container", tenant: str, cid: str) -> list[Any]:
    from chalicelib.storage.gdpr import linked

    return [t for t in linked(_adapter(c.task_store), tenant, f"contact#{cid}") if t.contact_id == cid]


def _erase_tasks(c: "Container", tenant: str, cid: str, by: str) -> None:
    from chalicelib.storage.gdpr import purge_change_log

    ids = [t.id for t in _contact_tasks(c, tenant, cid)]
    c.tasks.on_parent_deleted(tenant, "contact", cid)
    for task_id in ids:
        purge_change_log(tenant, "task", task_id, erased_by=by, at=_now())


# ---- deals and cases: they stay (business records) and lose the person ----


def _linked_export(store: Callable[["Container"], Any], name: str) -> Callable[["Container", str, str], Files]:
    def export(c: "Container", tenant: str, cid: str) -> Files:
        from chalicelib.storage.gdpr import linked

        return {f"{name}.json": _dump(linked(store(c), tenant, f"contact#{cid}"))}

    return export


# ---- voip: the person's calls and their recordings ----


def _contact_calls(c: "Container", tenant: str, cid: str) -> list[Any]:
    from chalicelib.storage.gdpr import linked

    return [call for call in linked(_adapter(c.call_store), tenant, f"contact#{cid}") if call.contact_id == cid]


def _export_calls(c: "Container", tenant: str, cid: str) -> Files:
    from chalicelib.storage.blobs import BlobStore

    calls = _contact_calls(c, tenant, cid)
    files: dict[str, bytes] = {"calls.json": _dump(calls)}
    for call in calls:
        if call.recording is not None:
            try:
                files[f"recordings/{call.id}.mp3"] = BlobStore().get(call.recording.key)[0]
            except Exception:  # not copied yet
                pass
    return files


def _erase_calls(c: "Container", tenant: str, cid: str, by: str) -> None:
    from chalicelib.storage.blobs import tenant_object_key
    from chalicelib.storage.dynamo import keys
    from chalicelib.storage.gdpr import delete_items, purge_objects

    for call in _contact_calls(c, tenant, cid):
        purge_objects(tenant_object_key(tenant, "voip", "calls", call.id) + "/")
        _adapter(c.call_store).delete(call, by=by, at=_now())
        delete_items([keys.call_sid_marker(tenant, call.call_sid)])


# ---- mailing: per-recipient results (the suppression list keeps only address digests) ----


def _export_mailing(c: "Container", tenant: str, cid: str) -> Files:
    return {"mailing_results.json": _dump(c.mailing_store.results_for_contact(tenant, cid))}


# ---- notifications: users' inbox entries that name the person or their tasks ----


def _erase_notifications(c: "Container", tenant: str, cid: str, by: str) -> None:
    from chalicelib.storage.gdpr import purge_notifications

    links = {f"/v1/contacts/{cid}"} | {f"/v1/tasks/{t.id}" for t in _contact_tasks(c, tenant, cid)}
    purge_notifications(tenant, _user_ids(c, tenant), links)


def _user_ids(c: "Container", tenant: str) -> list[str]:
    users, after = [], None
    while True:
        page = c.identity_store.list_users(tenant, PageRequest(limit=200, after=after))
        users += [u.id for u in page.items]
        if page.after is None:
            return users
        after = page.after


# ---- reports: derived data; a workbook, and the rows parked while it was made, may list the person ----


def _erase_reports(c: "Container", tenant: str, cid: str, by: str) -> None:
    """Reports that read contacts name them (contacts_by_manager lists them; their
    parked contact rows hold every visible contact's name): they go, every file
    version with them, and are made again on demand. Others never hold a name."""
    from chalicelib.domain.reports.models import SOURCES, Source
    from chalicelib.storage.blobs import tenant_object_key
    from chalicelib.storage.gdpr import purge_objects

    for user_id in _user_ids(c, tenant):
        after = None
        while True:
            page = c.report_store.list_mine(tenant, user_id, PageRequest(limit=200, after=after))
            for report in page.items:
                if Source.CONTACTS in SOURCES[report.type]:
                    purge_objects(tenant_object_key(tenant, "reports", report.id) + "/")
                    c.report_store.delete(report, by=by, at=_now())
            if page.after is None:
                break
            after = page.after


# ---- imports and exports: copies of many contacts (uploaded CSVs, error reports, export ZIPs) ----


def _erase_import_files(c: "Container", tenant: str, cid: str, by: str) -> None:
    """Uploaded CSVs and error reports would expire (1 and 7 days) but an erasure
    does not wait: the tenant's go, every version. The records an import made are
    the contacts' own, erased there; an import still running fails and can be
    started again. Import items hold ids, counts, offsets and SHA-256 digests."""
    from chalicelib.storage.blobs import tenant_object_key
    from chalicelib.storage.gdpr import purge_objects

    purge_objects("uploads/" + tenant_object_key(tenant, "imports") + "/")
    purge_objects("exports/" + tenant_object_key(tenant, "imports") + "/")


def _erase_export_files(c: "Container", tenant: str, cid: str, by: str) -> None:
    """Export ZIPs (7 days) go at once, every version; an export is made again on demand."""
    from chalicelib.storage.blobs import tenant_object_key
    from chalicelib.storage.gdpr import purge_objects

    purge_objects("exports/" + tenant_object_key(tenant, "exports") + "/")


# ---- webhooks: each delivery keeps the record's values it sent (30 days) ----


def _erase_deliveries(c: "Container", tenant: str, cid: str, by: str) -> None:
    """Deliveries whose payload names the contact (its own events, and those of the
    records linked to it by id) go; the receivers have what was sent."""
    for subscription in c.webhook_subscription_store.list(tenant):
        after = None
        while True:
            page = c.webhook_delivery_store.list(tenant, subscription.id, PageRequest(limit=200, after=after))
            for delivery in page.items:
                if cid in delivery.payload:
                    c.webhook_delivery_store.delete(delivery)
            if page.after is None:
                break
            after = page.after


# ---- invoices: kept by law, anonymised (domain/invoices/erasure.py) ----


def _export_invoices(c: "Container", tenant: str, cid: str) -> Files:
    from chalicelib.storage.gdpr import linked

    return {"invoices.json": _dump(linked(_adapter(c.invoice_store), tenant, f"contact#{cid}"))}


def _erase_invoices(c: "Container", tenant: str, cid: str, by: str) -> None:
    from chalicelib.domain.shared.principal import Principal, Role
    from chalicelib.storage.blobs import tenant_object_key
    from chalicelib.storage.gdpr import purge_objects

    # As the admin who asked: the invoices' change logs name them as the one who erased.
    result = c.invoices.anonymise_contact(Principal(tenant_id=tenant, user_id=by, role=Role.ADMIN), cid)
    for invoice_id in {*result.anonymised, *result.already, *result.formerly}:
        # Their rendered PDFs named the person: every version goes (the next GET .../pdf renders anew).
        purge_objects(tenant_object_key(tenant, "invoices", invoice_id) + "/")


# ---- gdpr itself: earlier export ZIPs of the person ----


def _erase_exports(c: "Container", tenant: str, cid: str, by: str) -> None:
    _adapter(c.gdpr_files).purge(tenant, cid)


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    hidden = {"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "tenant_id"}
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in item.items() if k not in hidden}


Export = Callable[["Container", str, str], Files]
Erase = Callable[["Container", str, str, str], object]

# feature -> how to export what it holds about one person (one folder of the ZIP each)
EXPORTERS: dict[str, Export] = {
    "contacts": _export_contact,
    "records": _export_records,
    "tasks": lambda c, tenant, cid: {"tasks.json": _dump(_contact_tasks(c, tenant, cid))},
    "deals": _linked_export(lambda c: c.deal_store, "deals"),
    "cases": _linked_export(lambda c: c.case_store, "cases"),
    "voip": _export_calls,
    "mailing": _export_mailing,
    "invoices": _export_invoices,
}

# feature -> how to erase it, in this order (see the module docstring)
ERASERS: dict[str, Erase] = {
    "invoices": _erase_invoices,
    "mailing": lambda c, tenant, cid, by: c.mailing_store.forget_contact(tenant, cid),
    "voip": _erase_calls,
    "notifications": _erase_notifications,
    "reports": _erase_reports,
    "imports": _erase_import_files,
    "webhooks": _erase_deliveries,
    "exports": _erase_export_files,
    "tasks": _erase_tasks,
    "deals": lambda c, tenant, cid, by: c.deals.unlink_contact(tenant, cid),
    "cases": lambda c, tenant, cid, by: c.cases.unlink_contact(tenant, cid),
    "records": _erase_records,
    "gdpr": _erase_exports,
    "contacts": _erase_contact,
}

# Features that hold nothing about a contact, each with the reason (checked by the registry test).
NO_PERSONAL_DATA: dict[str, str] = {
    "identity": "Users, groups and tokens of the tenant's staff, never contacts.",
    "settings": "Lists, currencies and custom field definitions; contacts' values live on the contact.",
    "jobs": "Job status records hold ids and counts; failures name ids and reasons, never values.",
    "forms": "Form definitions; a submission becomes a contact and its history (erased there); rate counters "
    "are keyed by an HMAC of the client address.",
    "shared": "Types and rules, no storage.",
}

# Features erased but not exported, each with the reason.
NOT_EXPORTED: dict[str, str] = {
    "gdpr": "Its job records name the contact id only; its earlier ZIPs are what an export makes anew.",
    "notifications": "The staff's inboxes: the person's data in them is the contact's own, exported there.",
    "webhooks": "Deliveries are copies of the records they sent, exported with those records.",
    "imports": "Copies of many contacts, not one person's data: the contact's own export holds her records.",
    "exports": "Copies of many contacts, not one person's data: the contact's own export holds her records.",
    "reports": "Counts over many records; a listing names the person only as the contact record does, exported there.",
}


def exporters(c: "Container") -> dict[str, Callable[[str, str], Files]]:
    def bound(f: Export) -> Callable[[str, str], Files]:
        return lambda tenant, cid: f(c, tenant, cid)

    return {name: bound(f) for name, f in EXPORTERS.items()}


def erasers(c: "Container") -> dict[str, Callable[[str, str, str], object]]:
    def bound(f: Erase) -> Callable[[str, str, str], object]:
        return lambda tenant, cid, by: f(c, tenant, cid, by)

    return {name: bound(f) for name, f in ERASERS.items()}
