"""In-memory twins of every storage port, for the unit tests.

One module per feature, as on every floor: identity, contacts, records
(history, files, change log), tasks (and reminders), deals, cases, settings
(lists, money, custom fields), notifications (and the mailer), jobs (queue,
background jobs, expiring items), forms (web forms;
forms.py also holds the small stand-ins its own unit tests use for the other
features' collaborators), limits (the one rate counter), voip, invoices,
mailing and gdpr. The twins of one test share a ``MemoryDb``
(per-tenant dicts), as the DynamoDB adapters share the table; they hold the
same rules the table's conditions hold (conditional creates, versions,
uniqueness markers, use counters) and page with the same contract, and
tests/contract asserts the same behaviour of each twin and its adapter.

``MemoryAdapters`` builds them all; ``overrides()`` is what a Container takes
to run every service on them (tests/unit/conftest.py). Typed by the ports:
mypy checks here that each twin fills its port.

Never imported by production code (cold start; and nothing here is durable).
No boto3: importing this package loads no AWS library.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

from chalicelib.domain.cases.ports import CaseStorage
from chalicelib.domain.contacts.ports import ContactStorage, PhotoBlobs
from chalicelib.domain.deals.ports import DealStorage
from chalicelib.domain.forms.ports import WebFormStore
from chalicelib.domain.gdpr.service import ExportFiles, GdprJobs
from chalicelib.domain.identity.ports import IdentityStorage
from chalicelib.domain.invoices import ports as invoice_ports
from chalicelib.domain.jobs.ports import JobStore
from chalicelib.domain.mailing import ports as mailing_ports
from chalicelib.domain.notifications.ports import NotificationStore
from chalicelib.domain.records.ports import ChangeLogStore, FileStore, HistoryStorage
from chalicelib.domain.settings.ports import CustomFieldStore, MoneySettingsStore, SettingsListStore
from chalicelib.domain.shared.limits import RateCounters
from chalicelib.domain.shared.ports import ExpiringItems, JobQueue
from chalicelib.domain.tasks.ports import ReminderStore, TaskStore
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
from chalicelib.storage.memory.cases import MemoryCaseStore
from chalicelib.storage.memory.contacts import MemoryContactStore, MemoryPhotoBlobs
from chalicelib.storage.memory.db import MemoryDb
from chalicelib.storage.memory.deals import MemoryDealStore
from chalicelib.storage.memory.forms import MemoryWebFormStore
from chalicelib.storage.memory.gdpr import MemoryExportFiles, MemoryGdprJobs
from chalicelib.storage.memory.identity import MemoryIdentityStore
from chalicelib.storage.memory.invoices import (
    InvoiceDb,
    MemoryDocumentStore,
    MemoryInvoiceSettingsStore,
    MemoryInvoiceStore,
    MemoryLogoBlobs,
    MemoryProductStore,
    MemoryTaxStore,
)
from chalicelib.storage.memory.invoices import MemoryQueue as MemoryDocumentQueue
from chalicelib.storage.memory.jobs import MemoryBackgroundJobStore, MemoryExpiringItems, MemoryQueue
from chalicelib.storage.memory.limits import MemoryRateCounters
from chalicelib.storage.memory.mailing import MemoryMailer as MemoryMassMailer
from chalicelib.storage.memory.mailing import MemoryMailingStore, MemorySuppressions
from chalicelib.storage.memory.notifications import MemoryMailer, MemoryNotificationStore
from chalicelib.storage.memory.records import MemoryChangeLogStore, MemoryFileStore, MemoryHistoryStore
from chalicelib.storage.memory.settings import MemoryCustomFieldStore, MemoryMoneySettingsStore, MemorySettingsListStore
from chalicelib.storage.memory.tasks import MemoryReminderStore, MemoryTaskStore
from chalicelib.storage.memory.twilio_api import FakeTelephony, FakeTwilioApi
from chalicelib.storage.memory.voip import MemoryBlobs, MemoryCallStore, MemoryOperators, MemoryVault, MemoryVoipStore
from chalicelib.storage.memory.voip import MemoryContacts as MemoryCallContacts
from chalicelib.storage.memory.voip import MemoryHistory as MemoryCallHistory
from chalicelib.storage.memory.voip import MemoryQueue as MemoryCallQueue


class Adapters(TypedDict):
    """The container's adapters by name (bootstrap/container.py), each typed by its port."""

    identity_store: IdentityStorage
    job_queue: JobQueue
    contact_store: ContactStorage
    contact_photo_store: PhotoBlobs
    file_store: FileStore
    history_store: HistoryStorage
    changelog_store: ChangeLogStore
    task_store: TaskStore
    reminder_store: ReminderStore
    deal_store: DealStorage
    case_store: CaseStorage
    settings_list_store: SettingsListStore
    money_settings_store: MoneySettingsStore
    custom_field_store: CustomFieldStore
    background_job_store: JobStore
    expiring_items: ExpiringItems
    notification_store: NotificationStore
    mailer: invoice_ports.Mailer
    web_form_store: WebFormStore
    rate_counters: RateCounters
    voip_store: VoipStore
    call_store: CallStore
    voip_vault: SecretVault
    recording_blobs: RecordingBlobs
    call_queue: CallQueue
    telephony: Callable[[TwilioCredentials], Telephony]
    voip_operators: OperatorDirectory
    call_contacts: ContactDirectory
    call_history: CallHistory
    tax_store: invoice_ports.TaxStore
    product_store: invoice_ports.ProductStore
    invoice_settings_store: invoice_ports.InvoiceSettingsStore
    invoice_store: invoice_ports.InvoiceStore
    invoice_document_store: invoice_ports.DocumentStore
    invoice_logo_store: invoice_ports.LogoBlobs
    document_queue: invoice_ports.DocumentQueue
    mailing_store: mailing_ports.MailingStore
    suppressions: mailing_ports.Suppressions
    mass_mailer: mailing_ports.MassMailer
    gdpr_jobs: GdprJobs
    gdpr_files: ExportFiles


class MemoryAdapters:
    """Every twin, sharing one MemoryDb; the concrete objects stay reachable
    for tests (the queue's messages, the mailer's sent mail, file uploads)."""

    def __init__(self, db: MemoryDb | None = None):
        self.db = db or MemoryDb()
        self.identity = MemoryIdentityStore(self.db)
        self.queue = MemoryQueue()
        self.contacts = MemoryContactStore(self.db)
        self.photos = MemoryPhotoBlobs(self.db)
        self.files = MemoryFileStore(self.db)
        self.history = MemoryHistoryStore(self.db, self.files)
        self.changelog = MemoryChangeLogStore(self.db)
        self.tasks = MemoryTaskStore(self.db)
        self.reminders = MemoryReminderStore(self.db)
        self.deals = MemoryDealStore(self.db)
        self.cases = MemoryCaseStore(self.db)
        self.settings_lists = MemorySettingsListStore(self.db)
        self.money = MemoryMoneySettingsStore(self.db)
        self.custom_fields = MemoryCustomFieldStore(self.db)
        self.jobs = MemoryBackgroundJobStore(self.db)
        self.expiring = MemoryExpiringItems(self.db)
        self.notifications = MemoryNotificationStore(self.db)
        self.mailer = MemoryMailer()
        self.web_forms = MemoryWebFormStore()
        self.rate_counters = MemoryRateCounters()  # forms, logins and the API's limits
        # Telephony: its own twins (storage/memory/voip.py) and a fake Twilio
        # (accounts: ``self.twilio.accounts[sid] = token``).
        self.voip = MemoryVoipStore()
        self.calls = MemoryCallStore()
        self.vault = MemoryVault()
        self.recordings = MemoryBlobs()
        self.call_queue = MemoryCallQueue()
        self.twilio = FakeTwilioApi(accounts={})
        self.operators = MemoryOperators()
        self.call_contacts = MemoryCallContacts()
        self.call_history = MemoryCallHistory()
        # Invoices (one InvoiceDb, as the table), mass mailing, GDPR jobs and their ZIPs.
        self.invoice_db = InvoiceDb()
        self.taxes = MemoryTaxStore(self.invoice_db)
        self.products = MemoryProductStore(self.invoice_db)
        self.invoice_settings = MemoryInvoiceSettingsStore(self.invoice_db)
        self.invoices = MemoryInvoiceStore(self.invoice_db)
        self.invoice_documents = MemoryDocumentStore(self.invoice_db)
        self.logos = MemoryLogoBlobs()
        self.document_queue = MemoryDocumentQueue()
        self.mailings = MemoryMailingStore()
        self.suppressions = MemorySuppressions()
        self.mass_mailer = MemoryMassMailer()
        self.gdpr_jobs = MemoryGdprJobs()
        self.gdpr_files = MemoryExportFiles()

    def overrides(self) -> Adapters:
        """What ``Container(settings, overrides=...)`` takes to use the twins."""
        return {
            "identity_store": self.identity,
            "job_queue": self.queue,
            "contact_store": self.contacts,
            "contact_photo_store": self.photos,
            "file_store": self.files,
            "history_store": self.history,
            "changelog_store": self.changelog,
            "task_store": self.tasks,
            "reminder_store": self.reminders,
            "deal_store": self.deals,
            "case_store": self.cases,
            "settings_list_store": self.settings_lists,
            "money_settings_store": self.money,
            "custom_field_store": self.custom_fields,
            "background_job_store": self.jobs,
            "expiring_items": self.expiring,
            "notification_store": self.notifications,
            "mailer": self.mailer,
            "web_form_store": self.web_forms,
            "rate_counters": self.rate_counters,
            "voip_store": self.voip,
            "call_store": self.calls,
            "voip_vault": self.vault,
            "recording_blobs": self.recordings,
            "call_queue": self.call_queue,
            "telephony": FakeTelephony(self.twilio),
            "voip_operators": self.operators,
            "call_contacts": self.call_contacts,
            "call_history": self.call_history,
            "tax_store": self.taxes,
            "product_store": self.products,
            "invoice_settings_store": self.invoice_settings,
            "invoice_store": self.invoices,
            "invoice_document_store": self.invoice_documents,
            "invoice_logo_store": self.logos,
            "document_queue": self.document_queue,
            "mailing_store": self.mailings,
            "suppressions": self.suppressions,
            "mass_mailer": self.mass_mailer,
            "gdpr_jobs": self.gdpr_jobs,
            "gdpr_files": self.gdpr_files,
        }


__all__ = ["Adapters", "MemoryAdapters", "MemoryDb"]
