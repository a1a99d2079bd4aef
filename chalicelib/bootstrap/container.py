"""The composition root: every service built from its adapters, once.

``Container`` builds each collaborator on first use (the HTTP function's cold
start pays only for what a request touches) and keeps it for the life of the
Lambda container. Tests hand in fakes: ``Container(overrides={"contact_store":
FakeContactStore(), ...})`` replaces any attribute by name before it is built
(tests/unit/conftest.py replaces every adapter with its twin from
storage/memory, and the clock). Each adapter is typed with the domain port it
fills, so mypy holds every DynamoDB adapter to its port here.

What follows what (cascades, merges, seeding) is not wired here but listed in
bootstrap/events.py; the ``events`` publisher reads that table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.config import Settings

if TYPE_CHECKING:
    from chalicelib.domain.cases.ports import CaseStorage
    from chalicelib.domain.cases.service import Cases
    from chalicelib.domain.contacts.bulk import ContactBulk
    from chalicelib.domain.contacts.merge import ContactMerge
    from chalicelib.domain.contacts.photo import ContactPhotos
    from chalicelib.domain.contacts.ports import ContactStorage, PhotoBlobs
    from chalicelib.domain.contacts.service import Contacts
    from chalicelib.domain.deals.pipeline import DealPipeline
    from chalicelib.domain.deals.ports import DealStorage
    from chalicelib.domain.deals.service import Deals
    from chalicelib.domain.exports.service import Exports
    from chalicelib.domain.forms.intake import FormIntake
    from chalicelib.domain.forms.ports import WebFormStore
    from chalicelib.domain.forms.service import WebForms
    from chalicelib.domain.forms.stamps import Stamps
    from chalicelib.domain.gdpr.service import ExportFiles, Gdpr, GdprJobs
    from chalicelib.domain.identity.auth import Auth
    from chalicelib.domain.identity.groups import Groups
    from chalicelib.domain.identity.module_access import CrmAccessSettings
    from chalicelib.domain.identity.ports import IdentityStorage
    from chalicelib.domain.identity.tenants import Tenants
    from chalicelib.domain.identity.users import Users
    from chalicelib.domain.imports.service import Imports
    from chalicelib.domain.invoices import ports as invoice_ports
    from chalicelib.domain.invoices.catalogue import Catalogue
    from chalicelib.domain.invoices.documents import InvoiceDocuments
    from chalicelib.domain.invoices.service import Invoices
    from chalicelib.domain.invoices.settings import InvoiceSettingsService
    from chalicelib.domain.jobs.housekeeping import Housekeeping
    from chalicelib.domain.jobs.ports import JobStore
    from chalicelib.domain.jobs.service import BackgroundJobs
    from chalicelib.domain.mailing import ports as mailing_ports
    from chalicelib.domain.mailing.service import Mailings
    from chalicelib.domain.notifications.ports import NotificationStore
    from chalicelib.domain.notifications.service import Notifier
    from chalicelib.domain.records.changelog import ChangeLog
    from chalicelib.domain.records.files import Files
    from chalicelib.domain.records.history import History
    from chalicelib.domain.records.parents import DeleteGuard, Parents
    from chalicelib.domain.records.ports import ChangeLogStore, FileStore, HistoryStorage
    from chalicelib.domain.records.tags import TaggedRecords, Tags
    from chalicelib.domain.settings.currency import CurrencySettings
    from chalicelib.domain.settings.custom_fields import CustomFields
    from chalicelib.domain.settings.lists import SettingsLists
    from chalicelib.domain.settings.ports import CustomFieldStore, MoneySettingsStore, SettingsListStore
    from chalicelib.domain.shared.clock import Clock
    from chalicelib.domain.shared.limits import ApiLimits, RateCounters
    from chalicelib.domain.shared.pagination import CursorCodec
    from chalicelib.domain.shared.ports import EventPublisher, ExpiringItems, JobQueue
    from chalicelib.domain.tasks.ports import ReminderStore, TaskStore
    from chalicelib.domain.tasks.reminders import Reminders
    from chalicelib.domain.tasks.service import Tasks
    from chalicelib.domain.voip.calls import CallEvents, CallLog
    from chalicelib.domain.voip.models import TwilioCredentials
    from chalicelib.domain.voip.ports import (
        CallHistory,
        CallQueue,
        CallStore,
        ContactDirectory,
        OperatorDirectory,
        RecordingBlobs,
        SecretVault,
        Telephony,
        VoipStore,
    )
    from chalicelib.domain.voip.service import CredentialCache, Voip
    from chalicelib.domain.voip.webhooks import VoipWebhooks

if TYPE_CHECKING:  # the HTTP layer's own store; imported where it is built
    from chalicelib.storage.idempotency import IdempotencyStore

JOB_QUEUE = "jobs"
IMPORT_QUEUE = "imports"
# Rendering and sending invoices: the documents function (a container with pango).
DOCUMENTS_QUEUE = "documents"
# Twilio's callbacks: their own queue and function (VOIP-7).
CALL_QUEUE = "calls"


class Container:
    def __init__(self, settings: Settings, overrides: Mapping[str, object] | None = None):
        self.settings = settings
        self._overrides = dict(overrides or {})
        # cached_property stores into __dict__: an override is simply there first.
        self.__dict__.update(self._overrides)

    def override(self, **collaborators: object) -> None:
        """Replace collaborators by name; everything built so far is built
        again on next use, so every service sees the replacements."""
        self._overrides.update(collaborators)
        built = {n for klass in type(self).__mro__ for n, v in vars(klass).items() if isinstance(v, cached_property)}
        for name in built:
            self.__dict__.pop(name, None)
        self.__dict__.update(self._overrides)

    # ---- adapters (storage: the only boto3) ----

    @cached_property
    def identity_store(self) -> IdentityStorage:
        from chalicelib.storage.identity import IdentityStore

        return IdentityStore()

    @cached_property
    def job_queue(self) -> JobQueue:
        from chalicelib.storage.queues import Queue

        return Queue(JOB_QUEUE)

    @cached_property
    def contact_store(self) -> ContactStorage:
        from chalicelib.storage.contacts.store import ContactStore

        return ContactStore()

    @cached_property
    def contact_photo_store(self) -> PhotoBlobs:
        from chalicelib.storage.contacts.photos import ContactPhotoStore

        return ContactPhotoStore()

    @cached_property
    def file_store(self) -> FileStore:
        from chalicelib.storage.records.files import FileStore

        return FileStore()

    @cached_property
    def history_store(self) -> HistoryStorage:
        from chalicelib.storage.records.history import HistoryStore

        return HistoryStore(files=self.file_store)

    @cached_property
    def changelog_store(self) -> ChangeLogStore:
        from chalicelib.storage.records.changelog import ChangeLogStore

        return ChangeLogStore()

    @cached_property
    def task_store(self) -> TaskStore:
        from chalicelib.storage.tasks.store import TaskStore

        return TaskStore()

    @cached_property
    def reminder_store(self) -> ReminderStore:
        from chalicelib.storage.tasks.reminders import ReminderStore

        return ReminderStore()

    @cached_property
    def deal_store(self) -> DealStorage:
        from chalicelib.storage.deals import DealStore

        return DealStore()

    @cached_property
    def case_store(self) -> CaseStorage:
        from chalicelib.storage.cases import CaseStore

        return CaseStore()

    @cached_property
    def settings_list_store(self) -> SettingsListStore:
        from chalicelib.storage.settings.lists import SettingsListStore

        return SettingsListStore()

    @cached_property
    def money_settings_store(self) -> MoneySettingsStore:
        from chalicelib.storage.settings.lists import MoneySettingsStore

        return MoneySettingsStore()

    @cached_property
    def custom_field_store(self) -> CustomFieldStore:
        from chalicelib.storage.settings.custom_fields import CustomFieldStore

        return CustomFieldStore()

    @cached_property
    def background_job_store(self) -> JobStore:
        from chalicelib.storage.jobs.store import BackgroundJobStore

        return BackgroundJobStore()

    @cached_property
    def expiring_items(self) -> ExpiringItems:
        from chalicelib.storage.jobs.expiry import ExpiringItemsStore

        return ExpiringItemsStore()

    @cached_property
    def idempotency(self) -> IdempotencyStore:
        from chalicelib.storage.idempotency import IdempotencyStore

        return IdempotencyStore(secret=lambda: self.cursor_secret)

    @cached_property
    def notification_store(self) -> NotificationStore:
        from chalicelib.storage.notifications import NotificationStore

        return NotificationStore()

    @cached_property
    def tax_store(self) -> invoice_ports.TaxStore:
        from chalicelib.storage.invoices.catalogue import TaxStore

        return TaxStore()

    @cached_property
    def product_store(self) -> invoice_ports.ProductStore:
        from chalicelib.storage.invoices.catalogue import ProductStore

        return ProductStore()

    @cached_property
    def invoice_settings_store(self) -> invoice_ports.InvoiceSettingsStore:
        from chalicelib.storage.invoices.settings import InvoiceSettingsStore

        return InvoiceSettingsStore()

    @cached_property
    def invoice_store(self) -> invoice_ports.InvoiceStore:
        from chalicelib.storage.invoices.store import InvoiceStore

        return InvoiceStore()

    @cached_property
    def invoice_document_store(self) -> invoice_ports.DocumentStore:
        from chalicelib.storage.invoices.documents import InvoiceDocumentStore

        return InvoiceDocumentStore()

    @cached_property
    def invoice_logo_store(self) -> invoice_ports.LogoBlobs:
        from chalicelib.storage.invoices.documents import LogoStore

        return LogoStore()

    @cached_property
    def document_queue(self) -> invoice_ports.DocumentQueue:
        from chalicelib.storage.queues import Queue

        return Queue(DOCUMENTS_QUEUE)

    @cached_property
    def invoice_renderer(self) -> Callable[[], invoice_ports.Renderer]:
        """A factory: the renderer module (and weasyprint) load on first rendering only."""

        def build() -> invoice_ports.Renderer:
            from chalicelib.documents.invoices import InvoiceRenderer

            return InvoiceRenderer()

        return build

    @cached_property
    def mailer(self) -> invoice_ports.Mailer:
        """Notifications and invoices alike (invoices attach their PDF)."""
        from chalicelib.storage.mail import SesMailer

        return SesMailer(self.settings.mail_from)

    # ---- cross-cutting ----

    @cached_property
    def clock(self) -> Clock:
        """Every service's "now" (unit tests hand in a fixed one)."""
        from chalicelib.domain.shared.clock import utc_now

        return utc_now

    @cached_property
    def events(self) -> EventPublisher:
        from chalicelib.bootstrap.events import EventBus

        return EventBus(self, self.job_queue)

    @cached_property
    def cursor_secret(self) -> bytes:
        """Signs page cursors and seals idempotent answers. Read on first use,
        once per container: only the API needs it, so only its role may read
        the Secrets Manager secret (the other functions never ask)."""
        inline = self.settings.cursor_secret_inline
        if inline is not None:  # local stack, tests
            return inline
        from chalicelib.storage.secrets import cursor_secret

        return cursor_secret(self.settings)

    @cached_property
    def stream_change(self) -> Callable[[Mapping[str, Any]], Any]:
        """A table stream record as the change webhooks see (None: not a record's item)."""
        from chalicelib.storage.webhooks import change_of

        return change_of

    @cached_property
    def check_dependencies(self) -> Callable[[], None]:
        """Readiness (GET /health): raises a domain error when the table, the
        bucket or a queue does not answer."""
        from chalicelib.storage.dynamo.health import check_dependencies

        return check_dependencies

    @cached_property
    def cursor_codec(self) -> CursorCodec:
        from chalicelib.domain.shared.pagination import CursorCodec

        return CursorCodec(self.cursor_secret)

    @cached_property
    def delete_guards(self) -> tuple[DeleteGuard, ...]:
        """What forbids deleting a parent (an invoice naming a contact)."""
        # Resolved on use: the invoices service takes ``parents`` itself.
        return (lambda principal, kind, record_id: self.invoices.delete_guard(principal, kind, record_id),)

    @cached_property
    def parents(self) -> Parents:
        from chalicelib.domain.records.parents import Parents

        # Resolved lazily: the services they name take ``parents`` themselves.
        return Parents(
            {
                "contact": lambda principal, record_id: self.contacts.parent_ref(principal, record_id),
                "deal": lambda principal, record_id: self.deals.parent_ref(principal, record_id),
                "case": lambda principal, record_id: self.cases.parent_ref(principal, record_id),
            },
            guards=self.delete_guards,
        )

    # ---- identity, notifications, jobs ----

    @cached_property
    def auth(self) -> Auth:
        from chalicelib.domain.identity.auth import Auth

        return Auth(self.identity_store, self.rate_counters, clock=self.clock)

    @cached_property
    def notifier(self) -> Notifier:
        from chalicelib.domain.notifications.service import Notifier

        return Notifier(
            self.notification_store,
            self.identity_store,
            self.mailer,
            self.job_queue,
            clock=self.clock,
            public_url=self.settings.public_url,
        )

    @cached_property
    def users(self) -> Users:
        from chalicelib.domain.identity.users import Users

        return Users(self.identity_store, self.auth, self.notifier, clock=self.clock)

    @cached_property
    def groups(self) -> Groups:
        from chalicelib.domain.identity.groups import Groups

        return Groups(self.identity_store, clock=self.clock)

    @cached_property
    def tenants(self) -> Tenants:
        from chalicelib.domain.identity.tenants import Tenants

        return Tenants(self.identity_store, self.auth, self.events, clock=self.clock)

    @cached_property
    def crm_access(self) -> CrmAccessSettings:
        from chalicelib.domain.identity.module_access import CrmAccessSettings

        return CrmAccessSettings(self.identity_store, clock=self.clock)

    @cached_property
    def housekeeping(self) -> Housekeeping:
        from chalicelib.domain.jobs.housekeeping import Housekeeping

        return Housekeeping(self.expiring_items, self.job_queue, clock=self.clock)

    @cached_property
    def background_jobs(self) -> BackgroundJobs:
        from chalicelib.domain.jobs.service import BackgroundJobs

        return BackgroundJobs(
            self.background_job_store,
            clock=self.clock,
            downloads=lambda key, name: self.export_files.download_url(key, name, 300),
        )

    # ---- settings ----

    @cached_property
    def settings_lists(self) -> SettingsLists:
        from chalicelib.domain.settings.lists import SettingsLists

        return SettingsLists(self.settings_list_store, self.events, clock=self.clock)

    @cached_property
    def currency_settings(self) -> CurrencySettings:
        from chalicelib.domain.settings.currency import CurrencySettings

        return CurrencySettings(self.money_settings_store, clock=self.clock)

    @cached_property
    def custom_fields(self) -> CustomFields:
        from chalicelib.domain.settings.custom_fields import CustomFields

        return CustomFields(self.custom_field_store, clock=self.clock)

    # ---- contacts ----

    @cached_property
    def contacts(self) -> Contacts:
        from chalicelib.domain.contacts.service import Contacts

        return Contacts(
            self.contact_store,
            self.identity_store,
            self.notifier,
            self.events,
            self.parents,
            clock=self.clock,
            custom_fields=self.custom_fields,
        )

    @cached_property
    def contact_photos(self) -> ContactPhotos:
        from chalicelib.domain.contacts.photo import ContactPhotos

        return ContactPhotos(self.contacts, self.contact_photo_store, clock=self.clock)

    @cached_property
    def contact_bulk(self) -> ContactBulk:
        from chalicelib.domain.contacts.bulk import ContactBulk

        return ContactBulk(self.contacts, self.background_jobs, self.identity_store, self.job_queue)

    @cached_property
    def contact_merge(self) -> ContactMerge:
        from chalicelib.domain.contacts.merge import ContactMerge

        return ContactMerge(
            self.contacts, self.contact_photos, self.identity_store, self.parents, self.events, self.history
        )

    # ---- records: history, files, change log, tags ----

    @cached_property
    def files(self) -> Files:
        from chalicelib.domain.records.files import Files

        return Files(self.file_store, self.parents, clock=self.clock)

    @cached_property
    def history(self) -> History:
        from chalicelib.domain.records.history import History

        return History(
            self.history_store,
            self.files,
            self.parents,
            categories=lambda principal, category_id: self.settings_lists.resolve(
                principal, "history-categories", category_id
            )
            is not None,
            clock=self.clock,
        )

    @cached_property
    def changelog(self) -> ChangeLog:
        from chalicelib.domain.records.changelog import ChangeLog

        return ChangeLog(self.changelog_store, self.parents)

    @cached_property
    def tags(self) -> Tags:
        from chalicelib.domain.cases.models import CaseChanges, CaseQuery
        from chalicelib.domain.deals.models import DealChanges, DealQuery
        from chalicelib.domain.records.tags import ContactTags, RestrictedRecordTags, Tags

        records: dict[str, TaggedRecords] = {
            "contact": ContactTags(self.contacts, self.contact_store),
            "deal": RestrictedRecordTags("deal", self.deals, self.deal_store, DealQuery, DealChanges),
            "case": RestrictedRecordTags("case", self.cases, self.case_store, CaseQuery, CaseChanges),
        }
        return Tags(
            records,
            self.background_jobs,
            self.identity_store,
            self.job_queue,
        )

    # ---- tasks, deals, cases ----

    @cached_property
    def tasks(self) -> Tasks:
        from chalicelib.domain.tasks.service import Tasks

        return Tasks(
            self.task_store,
            self.identity_store,
            self.notifier,
            self.settings_lists,
            self.changelog_store,
            self.parents,
            clock=self.clock,
        )

    @cached_property
    def reminders(self) -> Reminders:
        from chalicelib.domain.tasks.reminders import Reminders

        return Reminders(self.reminder_store, self.job_queue, deliverer=self.tasks.deliver_reminder, clock=self.clock)

    @cached_property
    def deals(self) -> Deals:
        from chalicelib.domain.deals.service import Deals

        return Deals(
            self.deal_store,
            self.identity_store,
            self.notifier,
            self.events,
            self.parents,
            self.settings_lists,
            self.currency_settings,
            self.custom_fields,
            clock=self.clock,
        )

    @cached_property
    def deal_pipeline(self) -> DealPipeline:
        from chalicelib.domain.deals.pipeline import DealPipeline

        return DealPipeline(self.deal_store, self.settings_lists, self.currency_settings)

    @cached_property
    def cases(self) -> Cases:
        from chalicelib.domain.cases.service import Cases

        return Cases(
            self.case_store,
            self.identity_store,
            self.notifier,
            self.events,
            self.parents,
            self.custom_fields,
            clock=self.clock,
        )

    # ---- invoices, catalogue, taxes, company profile ----

    @cached_property
    def catalogue(self) -> Catalogue:
        from chalicelib.domain.invoices.catalogue import Catalogue

        return Catalogue(self.tax_store, self.product_store, self.currency_settings)

    @cached_property
    def invoice_settings(self) -> InvoiceSettingsService:
        from chalicelib.domain.invoices.settings import InvoiceSettingsService

        return InvoiceSettingsService(self.invoice_settings_store, self.invoice_logo_store)

    @cached_property
    def invoices(self) -> Invoices:
        from chalicelib.domain.invoices.service import Invoices

        return Invoices(
            self.invoice_store,
            self.invoice_settings,
            self.catalogue,
            self.contacts,
            self.deals,
            self.parents,
            self.currency_settings,
            self.changelog_store,
            self.document_queue,
            self.events,
            pdfs=self.invoice_document_store,
        )

    @cached_property
    def invoice_documents(self) -> InvoiceDocuments:
        from chalicelib.domain.invoices.documents import InvoiceDocuments

        return InvoiceDocuments(
            self.invoices,
            self.invoice_store,
            self.invoice_settings,
            self.invoice_document_store,
            self.document_queue,
            self.invoice_renderer,
            self.mailer,
            self.job_queue,
        )

    # ---- imports and exports (IMP-*, ADM-1) ----

    @cached_property
    def import_store(self) -> Any:
        from chalicelib.storage.imports import ImportStore

        return ImportStore()

    @cached_property
    def import_files(self) -> Any:
        from chalicelib.storage.imports import ImportFiles

        return ImportFiles()

    @cached_property
    def contact_index(self) -> Any:
        from chalicelib.storage.imports import ContactIndex

        return ContactIndex()

    @cached_property
    def import_queue(self) -> Any:
        from chalicelib.storage.queues import Queue

        return Queue(IMPORT_QUEUE)

    @cached_property
    def imports(self) -> Imports:
        from chalicelib.domain.imports.service import Imports

        return Imports(
            self.import_store,
            self.import_files,
            self.import_queue,
            self.identity_store,
            self.notifier,
            writers=self.import_writer,
            custom_fields=self.custom_fields,
        )

    def import_writer(self, context: Any) -> Any:
        """The RowWriter of one import chunk: the entity's own service, built on
        this chunk's adapters (reads of settings, users and tags answered once;
        a dry run's stores that do not write; manager notifications counted)."""
        from chalicelib.domain.cases.service import Cases
        from chalicelib.domain.contacts.service import Contacts
        from chalicelib.domain.deals.service import Deals
        from chalicelib.domain.imports.caching import CollectingNotifier, Discard, Memo, RecordStore
        from chalicelib.domain.imports.service import derived_id
        from chalicelib.domain.settings.custom_fields import CustomFields
        from chalicelib.domain.settings.lists import SettingsLists
        from chalicelib.domain.tasks.service import Tasks

        dry_run = context.record.dry_run
        collector = CollectingNotifier()
        users = Memo(self.identity_store, "get_users", "get_user")
        lists = SettingsLists(Memo(self.settings_list_store, "load_list", "get_entry"), self.events)
        fields = CustomFields(Memo(self.custom_field_store, "list_fields", "get_field"))
        events = Discard() if dry_run else self.events
        entity = context.record.entity.value
        if entity == "contacts":
            from chalicelib.domain.imports.contacts import ContactRows

            contacts = Contacts(
                RecordStore(self.contact_store, dry_run=dry_run),
                users,
                collector,
                events,
                self.parents,
                custom_fields=fields,
            )
            return ContactRows(
                context,
                contacts,
                self.contact_index,
                self.import_store,
                users=self.identity_store,
                lists=Memo(lists, "list"),
                custom_fields=Memo(fields, "for_scope"),
                history=self.history,
                notifier=collector,
                derive_id=derived_id,
            )
        from chalicelib.domain.imports.records import RecordRows

        services = {
            "deals": lambda: Deals(
                RecordStore(self.deal_store, dry_run=dry_run),
                users,
                collector,
                events,
                self.parents,
                lists,
                Memo(self.currency_settings, "get"),
                fields,
            ),
            "tasks": lambda: Tasks(
                RecordStore(self.task_store, dry_run=dry_run),
                users,
                collector,
                lists,
                self.changelog_store,
                self.parents,
            ),
            "cases": lambda: Cases(
                RecordStore(self.case_store, dry_run=dry_run), users, collector, events, self.parents, fields
            ),
        }
        return RecordRows(
            context,
            services[entity](),
            self.import_store,
            users=self.identity_store,
            lists=Memo(lists, "list"),
            custom_fields=Memo(fields, "for_scope"),
            contacts=self.contacts,
            contact_index=self.contact_index,
            notifier=collector,
            derive_id=derived_id,
        )

    @cached_property
    def export_files(self) -> Any:
        from chalicelib.storage.exports import ExportFiles

        return ExportFiles()

    @cached_property
    def export_store(self) -> Any:
        from chalicelib.storage.exports import ExportStore

        return ExportStore()

    @cached_property
    def export_sources(self) -> dict[str, Any]:
        """What an export can hold, by entity. A feature adds its own here
        (as invoices did: ``"invoices": InvoiceRows(...)``); the
        order is the order of the ZIP's files."""
        from chalicelib.domain.exports.sources import (
            CaseRows,
            ContactRows,
            DealRows,
            HistoryRows,
            InvoiceRows,
            TaskRows,
        )

        return {
            "contacts": ContactRows(self.contacts, self.custom_fields, self.identity_store, self.settings_lists),
            "deals": DealRows(self.deals, self.custom_fields, self.identity_store, self.settings_lists),
            "tasks": TaskRows(self.tasks, self.identity_store, self.settings_lists),
            "cases": CaseRows(self.cases, self.custom_fields),
            "invoices": InvoiceRows(self.invoices, self.identity_store),
            "history": HistoryRows(self.contacts, self.deals, self.cases, self.history_store),
        }

    @cached_property
    def exports(self) -> Exports:
        from chalicelib.domain.exports.service import Exports

        return Exports(
            self.background_jobs,
            self.export_store,
            self.export_files,
            self.job_queue,
            self.identity_store,
            self.export_sources,
            self.notifier,
        )

    # ---- limits (issue 19): the one kind of rate counter, the API's limits ----

    @cached_property
    def rate_counters(self) -> RateCounters:
        from chalicelib.storage.limits import DynamoRateCounters

        return DynamoRateCounters()

    @cached_property
    def rate_limit_clock(self) -> Clock:
        from chalicelib.domain.shared.clock import utc_now

        return utc_now

    @cached_property
    def api_limits(self) -> ApiLimits:
        from chalicelib.domain.forms.stamps import derive_key
        from chalicelib.domain.shared.limits import ApiLimits, Limit, RateLimiter

        return ApiLimits(
            RateLimiter(self.rate_counters),
            per_token=Limit.parse("token", self.settings.rate_limit_token),
            per_client=Limit.parse("ip", self.settings.rate_limit_ip),
            client_key=derive_key(self.cursor_secret, "clients"),
            clock=self.rate_limit_clock,
        )

    # ---- web forms (WEB-1..3) ----

    @cached_property
    def web_form_store(self) -> WebFormStore:
        from chalicelib.storage.forms import WebFormStore

        return WebFormStore()

    @cached_property
    def web_form_counters(self) -> RateCounters:
        return self.rate_counters

    @cached_property
    def web_form_clock(self) -> Clock:
        """Rate windows and fill times (API tests override it by name)."""
        return self.clock

    @cached_property
    def web_form_stamps(self) -> Stamps:
        from chalicelib.domain.forms.stamps import Stamps, derive_key

        return Stamps(derive_key(self.cursor_secret, "stamps"))

    @cached_property
    def web_forms(self) -> WebForms:
        from chalicelib.domain.forms.service import WebForms

        return WebForms(
            self.web_form_store,
            self.identity_store,
            self.custom_fields,
            self.web_form_stamps,
            clock=self.web_form_clock,
        )

    @cached_property
    def web_form_intake(self) -> FormIntake:
        from chalicelib.domain.forms.intake import FormIntake
        from chalicelib.domain.forms.stamps import derive_key

        return FormIntake(
            self.web_form_store,
            self.web_form_counters,
            self.identity_store,
            self.contacts,
            self.contact_store,
            self.history_store,
            self.custom_fields,
            self.notifier,
            self.job_queue,
            self.web_form_stamps,
            client_key=derive_key(self.cursor_secret, "clients"),
            clock=self.web_form_clock,
        )

    # ---- telephony (VOIP) ----

    @cached_property
    def voip_store(self) -> VoipStore:
        from chalicelib.storage.voip import DynamoVoipStore

        return DynamoVoipStore()

    @cached_property
    def call_store(self) -> CallStore:
        from chalicelib.storage.voip import DynamoCallStore

        return DynamoCallStore()

    @cached_property
    def voip_vault(self) -> SecretVault:
        from chalicelib.storage.voip import SecretsManagerVault

        return SecretsManagerVault()

    @cached_property
    def recording_blobs(self) -> RecordingBlobs:
        from chalicelib.storage.voip import S3RecordingBlobs

        return S3RecordingBlobs()

    @cached_property
    def call_queue(self) -> CallQueue:
        from chalicelib.storage.queues import Queue

        return Queue(CALL_QUEUE)

    @cached_property
    def twilio_http_client(self) -> object | None:
        """None: Twilio itself (or the local fake for its accounts); tests
        hand in storage/memory/twilio_api.py's fake transport."""
        return None

    @cached_property
    def telephony(self) -> Callable[[TwilioCredentials], Telephony]:
        """The Telephony port of an account: ``telephony(credentials)``."""
        from chalicelib.storage.twilio import telephony_for

        fake_url, http_client = self.settings.twilio_fake_url, self.twilio_http_client
        return lambda creds: telephony_for(creds, fake_url=fake_url, http_client=http_client)

    @cached_property
    def voip_credentials(self) -> CredentialCache:
        from chalicelib.domain.voip.service import CredentialCache

        return CredentialCache(self.voip_vault)

    @cached_property
    def voip_operators(self) -> OperatorDirectory:
        from chalicelib.storage.voip import OperatorsFromUsers

        return OperatorsFromUsers(self.identity_store)

    @cached_property
    def call_contacts(self) -> ContactDirectory:
        from chalicelib.storage.voip import ContactsForCalls

        return ContactsForCalls(self.contact_store, lambda: self.contacts, self.identity_store)

    @cached_property
    def call_history(self) -> CallHistory:
        from chalicelib.storage.voip import HistoryForCalls

        return HistoryForCalls(self.history_store, lambda: self.settings_lists)

    @cached_property
    def voip(self) -> Voip:
        from chalicelib.domain.voip.service import Voip

        return Voip(
            self.voip_store,
            self.voip_vault,
            self.voip_credentials,
            self.telephony,
            self.voip_operators,
            public_url=self.settings.public_url,
        )

    @cached_property
    def voip_webhooks(self) -> VoipWebhooks:
        from chalicelib.domain.voip.webhooks import VoipWebhooks

        return VoipWebhooks(
            self.voip_store,
            self.voip_credentials,
            self.call_contacts,
            self.voip_operators,
            self.call_queue,
            public_url=self.settings.public_url,
        )

    @cached_property
    def call_events(self) -> CallEvents:
        from chalicelib.domain.voip.calls import CallEvents

        return CallEvents(
            self.call_store,
            self.voip_store,
            self.voip_credentials,
            self.telephony,
            self.call_contacts,
            self.call_history,
            self.recording_blobs,
            self.call_queue,
        )

    @cached_property
    def call_log(self) -> CallLog:
        from chalicelib.domain.voip.calls import CallLog

        return CallLog(self.call_store, self.recording_blobs)

    # ---- outgoing webhooks (issue 18) ----

    @cached_property
    def webhook_subscription_store(self) -> Any:
        from chalicelib.storage.webhooks import DynamoSubscriptionStore

        return DynamoSubscriptionStore()

    @cached_property
    def webhook_delivery_store(self) -> Any:
        from chalicelib.storage.webhooks import DynamoDeliveryStore

        return DynamoDeliveryStore()

    @cached_property
    def webhook_resolver(self) -> Any:
        from chalicelib.storage.webhooks import DnsResolver

        return DnsResolver()

    @cached_property
    def webhook_sender(self) -> Any:
        from chalicelib.storage.webhooks import HttpSender

        return HttpSender()

    @cached_property
    def webhook_clock(self) -> Clock:
        from chalicelib.domain.shared.clock import utc_now

        return utc_now

    @cached_property
    def webhooks(self) -> Any:
        from chalicelib.domain.webhooks.service import Webhooks

        return Webhooks(
            self.webhook_subscription_store,
            self.webhook_delivery_store,
            self.job_queue,
            self.webhook_resolver,
            allow_loopback=self.settings.webhooks_allow_loopback,
            clock=self.webhook_clock,
        )

    @cached_property
    def webhook_dispatch(self) -> Any:
        from chalicelib.domain.webhooks.service import WebhookDispatch

        return WebhookDispatch(
            self.webhook_subscription_store,
            self.webhook_delivery_store,
            self.job_queue,
            self.webhook_resolver,
            self.webhook_sender,
            allow_loopback=self.settings.webhooks_allow_loopback,
            clock=self.webhook_clock,
        )

    # ---- mass mailing (ADM-2) and GDPR ----

    @cached_property
    def mailing_store(self) -> mailing_ports.MailingStore:
        from chalicelib.storage.mailing import DynamoMailingStore

        return DynamoMailingStore()

    @cached_property
    def suppressions(self) -> mailing_ports.Suppressions:
        from chalicelib.storage.mailing import DynamoSuppressions

        return DynamoSuppressions()

    @cached_property
    def send_windows(self) -> mailing_ports.SendWindows:
        from chalicelib.domain.mailing.throttle import CounterSendWindows

        return CounterSendWindows(self.rate_counters)

    @cached_property
    def mass_mailer(self) -> mailing_ports.MassMailer:
        from chalicelib.storage.mailing import SesMassMailer

        return SesMassMailer(self.settings.mail_from, self.settings.mail_configuration_set)

    @cached_property
    def mailing_sleep(self) -> Callable[[float], None]:
        """How a chunk waits for the next second's sending slots (tests override it)."""
        import time

        return time.sleep

    @cached_property
    def mailing_clock(self) -> Clock:
        from chalicelib.domain.shared.clock import utc_now

        return utc_now

    @cached_property
    def mailings(self) -> Mailings:
        from chalicelib.domain.mailing.service import Mailings
        from chalicelib.domain.mailing.unsubscribe import UnsubscribeTokens
        from chalicelib.storage.mailing import (
            ContactsForMailing,
            CustomFieldsForMailing,
            FilesForMailing,
            HistoryForMailing,
        )

        return Mailings(
            self.mailing_store,
            self.suppressions,
            self.send_windows,
            self.mass_mailer,
            ContactsForMailing(lambda: self.contacts),
            FilesForMailing(lambda: self.files),
            HistoryForMailing(self.history_store),
            CustomFieldsForMailing(lambda: self.custom_fields),
            self.job_queue,
            UnsubscribeTokens(self.cursor_codec),
            public_url=self.settings.public_url,
            clock=self.mailing_clock,
            sleep=self.mailing_sleep,
        )

    @cached_property
    def gdpr_jobs(self) -> GdprJobs:
        from chalicelib.storage.gdpr import DynamoGdprJobs

        return DynamoGdprJobs()

    @cached_property
    def gdpr_files(self) -> ExportFiles:
        from chalicelib.storage.gdpr import S3ExportFiles

        return S3ExportFiles()

    @cached_property
    def gdpr(self) -> Gdpr:
        from chalicelib.bootstrap.gdpr import erasers, exporters
        from chalicelib.domain.gdpr.service import Gdpr
        from chalicelib.storage.gdpr import ContactsExist

        return Gdpr(
            self.gdpr_jobs,
            self.gdpr_files,
            ContactsExist(self.contact_store),
            self.job_queue,
            exporters(self),
            erasers(self),
        )

    # ---- reports (REP-1..4, issue 17) ----

    @cached_property
    def report_store(self) -> Any:
        from chalicelib.storage.reports import DynamoReportStore

        return DynamoReportStore()

    @cached_property
    def report_schedule_store(self) -> Any:
        from chalicelib.storage.reports import DynamoScheduleStore

        return DynamoScheduleStore()

    @cached_property
    def report_files(self) -> Any:
        from chalicelib.storage.reports import S3ReportFiles

        return S3ReportFiles()

    @cached_property
    def report_settings_store(self) -> Any:
        from chalicelib.storage.reports import DynamoReportSettings

        return DynamoReportSettings()

    @cached_property
    def report_deal_rows(self) -> Any:
        from chalicelib.storage.reports import DealRowSource

        return DealRowSource(self.deal_store)

    @cached_property
    def report_contact_rows(self) -> Any:
        from chalicelib.storage.reports import ContactRowSource

        return ContactRowSource(self.contact_store)

    @cached_property
    def report_task_rows(self) -> Any:
        from chalicelib.storage.reports import TaskRowSource

        return TaskRowSource(self.task_store)

    @cached_property
    def report_invoice_rows(self) -> Any:
        from chalicelib.storage.reports import InvoiceRowSource

        return InvoiceRowSource(self.invoice_store)

    @cached_property
    def report_call_rows(self) -> Any:
        from chalicelib.storage.reports import CallRowSource

        return CallRowSource(self.call_store)

    @cached_property
    def report_linked_access(self) -> Any:
        from chalicelib.storage.reports import LinkedRecordAccess

        return LinkedRecordAccess({"contact": self.contact_store, "deal": self.deal_store, "case": self.case_store})

    @cached_property
    def report_clock(self) -> Clock:
        from chalicelib.domain.shared.clock import utc_now

        return utc_now

    @cached_property
    def reports(self) -> Any:
        # Imported here: the service builds its row codecs at import, which requests that never touch reports skip.
        from chalicelib.domain.reports.service import Reports

        def render(*args: Any) -> bytes:
            from chalicelib.documents.report_workbook import render as render_workbook

            return render_workbook(*args)

        return Reports(
            store=self.report_store,
            schedules=self.report_schedule_store,
            files=self.report_files,
            settings=self.report_settings_store,
            deals=self.report_deal_rows,
            contacts=self.report_contact_rows,
            tasks=self.report_task_rows,
            invoices=self.report_invoice_rows,
            calls=self.report_call_rows,
            linked=self.report_linked_access,
            directory=self.identity_store,
            lists=self.settings_lists,
            money=self.currency_settings,
            queue=self.job_queue,
            mailer=self.mailer,
            render=render,
            public_url=self.settings.public_url,
            clock=self.report_clock,
        )
