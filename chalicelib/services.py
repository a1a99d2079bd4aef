"""Composition root: domain services wired to their real adapters, built once
per container on first use. Tests reach the same wiring over moto."""
from __future__ import annotations

import functools

from chalicelib.config import get_settings
from chalicelib.domain import contact_merge as contact_merge_hooks
from chalicelib.domain import parents
from chalicelib.domain.auth import Auth
from chalicelib.domain.crm_access import CrmAccessSettings
from chalicelib.domain.groups import Groups
from chalicelib.domain.housekeeping import Housekeeping
from chalicelib.domain.notifications import Notifier
from chalicelib.domain.pagination import CursorCodec
from chalicelib.domain.principal import Principal
from chalicelib.domain.tenants import Tenants, register_seeder
from chalicelib.domain.users import Users

JOB_QUEUE = "jobs"


@functools.cache
def cursor_codec() -> CursorCodec:
    return CursorCodec(get_settings().cursor_secret)


@functools.cache
def identity_store():  # type: ignore[no-untyped-def]
    from chalicelib.storage.identity import IdentityStore

    return IdentityStore()


@functools.cache
def job_queue():  # type: ignore[no-untyped-def]
    from chalicelib.storage.queues import Queue

    return Queue(JOB_QUEUE)


@functools.cache
def housekeeping() -> Housekeeping:
    from chalicelib.storage.expiry import ExpiringItemsStore

    return Housekeeping(ExpiringItemsStore(), job_queue())


@functools.cache
def auth() -> Auth:
    return Auth(identity_store())


@functools.cache
def notifier() -> Notifier:
    from chalicelib.storage.mailer import SesMailer
    from chalicelib.storage.notifications import NotificationStore

    settings = get_settings()
    return Notifier(NotificationStore(), identity_store(), SesMailer(settings.mail_from), job_queue(),
                    public_url=settings.public_url)


@functools.cache
def users() -> Users:
    return Users(identity_store(), auth(), notifier())


@functools.cache
def groups() -> Groups:
    return Groups(identity_store())


@functools.cache
def tenants() -> Tenants:
    return Tenants(identity_store(), auth())


@functools.cache
def crm_access() -> CrmAccessSettings:
    return CrmAccessSettings(identity_store())


@functools.cache
def contacts():  # type: ignore[no-untyped-def]
    from chalicelib.domain.contacts_service import Contacts
    from chalicelib.storage.contacts import ContactStore

    return Contacts(ContactStore(), identity_store(), notifier(), job_queue(), custom_fields=custom_fields())


@functools.cache
def tags():  # type: ignore[no-untyped-def]
    from chalicelib.domain.tags import ContactTags, Tags
    from chalicelib.storage.contacts import ContactStore

    from chalicelib.domain.cases import CaseChanges, CaseQuery
    from chalicelib.domain.deals import DealChanges, DealQuery
    from chalicelib.domain.tags import RestrictedRecordTags
    from chalicelib.storage.cases import CaseStore
    from chalicelib.storage.deals import DealStore

    return Tags({"contact": ContactTags(contacts(), ContactStore()),
                 "deal": RestrictedRecordTags("deal", deals(), DealStore(), DealQuery, DealChanges),
                 "case": RestrictedRecordTags("case", cases(), CaseStore(), CaseQuery, CaseChanges)},
                background_jobs(), identity_store(), job_queue())


# The reference's default contact tags (SPEC "Defaults"), offered on a new tenant.
DEFAULT_CONTACT_TAGS = ("Lead", "Customer", "Supplier", "Staff")


def _seed_contact_tags(owner: Principal) -> None:
    from chalicelib.storage.contacts import ContactStore

    store = ContactStore()
    for name in DEFAULT_CONTACT_TAGS:
        store.save_tag(owner.tenant_id, name)  # an upsert: seeding twice changes nothing


register_seeder(_seed_contact_tags)


# Records other records hang off: resolved lazily, registered at wiring time.
parents.register_parent("contact", lambda principal, record_id: contacts().parent_ref(principal, record_id))
parents.register_cascade("contact", lambda tenant_id, record_id: contacts().unlink_company(tenant_id, record_id))


@functools.cache
def file_store():  # type: ignore[no-untyped-def]
    from chalicelib.storage.files import FileStore

    return FileStore()


@functools.cache
def history_store():  # type: ignore[no-untyped-def]
    from chalicelib.storage.history import HistoryStore

    return HistoryStore(files=file_store())


@functools.cache
def files():  # type: ignore[no-untyped-def]
    from chalicelib.domain.files import Files

    return Files(file_store())


@functools.cache
def history():  # type: ignore[no-untyped-def]
    from chalicelib.domain.history import History

    return History(history_store(), files())


@functools.cache
def changelog():  # type: ignore[no-untyped-def]
    from chalicelib.domain.changelog import ChangeLog
    from chalicelib.storage.changelog import ChangeLogStore

    return ChangeLog(ChangeLogStore())


# A deleted contact, deal or case takes its history and files with it (in the background).
for _kind in parents.PARENT_KINDS:
    parents.register_cascade(_kind, lambda tenant_id, record_id, kind=_kind:
                             history_store().delete_all_for_parent(tenant_id, kind, record_id))


@functools.cache
def settings_lists():  # type: ignore[no-untyped-def]
    from chalicelib.domain.settings_lists import SettingsLists
    from chalicelib.storage.settings import SettingsListStore

    return SettingsLists(SettingsListStore())


@functools.cache
def currency_settings():  # type: ignore[no-untyped-def]
    from chalicelib.domain.currency import CurrencySettings
    from chalicelib.storage.settings import MoneySettingsStore

    return CurrencySettings(MoneySettingsStore())


@functools.cache
def custom_fields():  # type: ignore[no-untyped-def]
    from chalicelib.domain.custom_fields import CustomFields
    from chalicelib.storage.custom_fields import CustomFieldStore

    return CustomFields(CustomFieldStore())


def _seed_settings(owner: Principal) -> None:
    """A new tenant's settings lists and default currency (idempotent)."""
    settings_lists().seed(owner)
    currency_settings().seed(owner)


register_seeder(_seed_settings)


def _wire_history_categories() -> None:
    """History events name a history category (SET-9) that must exist, and
    count as its uses in their own transactions."""
    from chalicelib.domain import history as history_domain
    from chalicelib.storage import history as history_storage
    from chalicelib.storage.settings import usage_delta_ops

    history_domain.register_category_check(
        lambda principal, category_id: settings_lists().resolve(principal, "history-categories", category_id)
        is not None)
    history_storage.register_category_usage(
        lambda tenant_id, deltas: usage_delta_ops(tenant_id, "history-categories", deltas, field="category_id"))


_wire_history_categories()


_FACTORIES = (cursor_codec, identity_store, job_queue, housekeeping, auth, notifier, users, groups, tenants,
              crm_access, contacts, tags, file_store, history_store, files, history, changelog,
              settings_lists, currency_settings, custom_fields)


# ---- contacts: photo, group operations, merge; background job status ----

@functools.cache
def contact_photos():  # type: ignore[no-untyped-def]
    from chalicelib.domain.contact_photo import ContactPhotos
    from chalicelib.storage.contact_photos import ContactPhotoStore

    return ContactPhotos(contacts(), ContactPhotoStore())


@functools.cache
def background_jobs():  # type: ignore[no-untyped-def]
    from chalicelib.domain.background_jobs import BackgroundJobs
    from chalicelib.storage.background_jobs import BackgroundJobStore

    return BackgroundJobs(BackgroundJobStore())


@functools.cache
def contact_bulk():  # type: ignore[no-untyped-def]
    from chalicelib.domain.contact_bulk import ContactBulk

    return ContactBulk(contacts(), background_jobs(), identity_store(), job_queue())


@functools.cache
def contact_merge():  # type: ignore[no-untyped-def]
    from chalicelib.domain.contact_merge import ContactMerge

    return ContactMerge(contacts(), contact_photos(), identity_store())


def _record_merge(principal: Principal, kind: str, record_id: str, text: str) -> None:
    from chalicelib.domain.history import system_event

    history_store().add_event(system_event(principal, kind, record_id, text))


# A deleted contact's photo goes with it (idempotent). A merge moves the
# history and files of the merged contact to the survivor before deleting it,
# and records the merge in the survivor's history.
parents.register_cascade("contact", lambda tenant_id, record_id: contact_photos().forget(tenant_id, record_id))
contact_merge_hooks.register_move_hook(
    lambda tenant_id, kind, from_id, into_id: history_store().move_all(tenant_id, kind, from_id, into_id))
contact_merge_hooks.register_event_recorder(_record_merge)

_FACTORIES += (contact_photos, background_jobs, contact_bulk, contact_merge)


# ---- tasks and reminders (TSK-1..7, SET-10); Idempotency-Key ----

@functools.cache
def tasks():  # type: ignore[no-untyped-def]
    from chalicelib.domain.tasks_service import Tasks
    from chalicelib.storage.changelog import ChangeLogStore
    from chalicelib.storage.tasks import TaskStore

    return Tasks(TaskStore(), identity_store(), notifier(), settings_lists(), ChangeLogStore())


@functools.cache
def reminders():  # type: ignore[no-untyped-def]
    from chalicelib.domain.reminders import Reminders
    from chalicelib.storage.reminders import ReminderStore

    return Reminders(ReminderStore(), job_queue(), deliverer=tasks().deliver_reminder)


@functools.cache
def idempotency():  # type: ignore[no-untyped-def]
    from chalicelib.storage.idempotency import IdempotencyStore

    return IdempotencyStore()


def _wire_tasks() -> None:
    """Retired task categories hand their tasks to the replacement; a deleted
    contact takes its tasks along, a deleted deal or case unlinks them."""
    from chalicelib.domain.settings_lists import register_replacement_handler

    register_replacement_handler("task-categories", lambda principal, list_name, old_id, new_id:
                                 tasks().replace_category(principal, list_name, old_id, new_id))
    for kind in parents.PARENT_KINDS:
        parents.register_cascade(kind, lambda tenant_id, record_id, kind=kind:
                                 tasks().on_parent_deleted(tenant_id, kind, record_id))
    contact_merge_hooks.register_move_hook(
        lambda tenant_id, kind, from_id, into_id: tasks().move_parent(tenant_id, kind, from_id, into_id))


_wire_tasks()
_FACTORIES += (tasks, reminders, idempotency)


# ---- deals, the pipeline and cases (DEA-1..8, CAS-1..4) ----

@functools.cache
def deals():  # type: ignore[no-untyped-def]
    from chalicelib.domain.deals_service import Deals
    from chalicelib.storage.deals import DealStore

    return Deals(DealStore(), identity_store(), notifier(), job_queue(), settings_lists(), currency_settings(),
                 custom_fields())


@functools.cache
def deal_pipeline():  # type: ignore[no-untyped-def]
    from chalicelib.domain.pipeline import DealPipeline
    from chalicelib.storage.deals import DealStore

    return DealPipeline(DealStore(), settings_lists(), currency_settings())


@functools.cache
def cases():  # type: ignore[no-untyped-def]
    from chalicelib.domain.cases_service import Cases
    from chalicelib.storage.cases import CaseStore

    return Cases(CaseStore(), identity_store(), notifier(), job_queue(), custom_fields())


def _wire_deals_and_cases() -> None:
    """Deals and cases are parents (history, files, tasks, change log); a
    deleted contact leaves their contacts and participants (idempotent)."""
    parents.register_parent("deal", lambda principal, record_id: deals().parent_ref(principal, record_id))
    parents.register_parent("case", lambda principal, record_id: cases().parent_ref(principal, record_id))
    parents.register_cascade("contact", lambda tenant_id, record_id: deals().unlink_contact(tenant_id, record_id))
    parents.register_cascade("contact", lambda tenant_id, record_id: cases().unlink_contact(tenant_id, record_id))
    # A merged contact's deals and cases name the survivor (before the merged one is deleted).
    contact_merge_hooks.register_move_hook(
        lambda tenant_id, kind, from_id, into_id: kind == "contact" and (
            deals().move_contact(tenant_id, from_id, into_id) + cases().move_contact(tenant_id, from_id, into_id)))
    parents.register_cascade("deal", lambda tenant_id, record_id: deals().forget_projects(tenant_id, record_id))


_wire_deals_and_cases()
_FACTORIES += (deals, deal_pipeline, cases)


def reset() -> None:
    """Forget every built service (tests change settings between cases)."""
    for factory in _FACTORIES:
        factory.cache_clear()
