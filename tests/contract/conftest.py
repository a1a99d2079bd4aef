"""Contract tests: one behaviour, asserted of each in-memory twin
(chalicelib/storage/memory) and of the DynamoDB/S3/SQS/SES adapter it stands
for (on moto). Every test here runs twice, through the ``stores`` fixture:
``[memory]`` and ``[dynamo]``. moto is what costs, so each test groups the
assertions about one port.

Where a test must observe what only the outside world sees (a queued message,
a sent e-mail, an object a client uploaded), ``Stores`` says how for each
backend; everything else goes through the ports alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from chalicelib.domain.cases.ports import CaseStorage
from chalicelib.domain.contacts.models import Contact, ContactKind
from chalicelib.domain.contacts.ports import ContactStorage, PhotoBlobs
from chalicelib.domain.deals.ports import DealStorage
from chalicelib.domain.identity.models import Tenant, User, UserStatus
from chalicelib.domain.identity.ports import IdentityStorage
from chalicelib.domain.jobs.ports import JobStore
from chalicelib.domain.notifications.ports import Mailer, NotificationStore
from chalicelib.domain.records.ports import ChangeLogStore, FileStore, HistoryStorage
from chalicelib.domain.settings.lists import LIST_SPECS, ListEntry
from chalicelib.domain.settings.ports import CustomFieldStore, MoneySettingsStore, SettingsListStore
from chalicelib.domain.shared.clock import new_id
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.ports import ExpiringItems, JobQueue
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.tasks.models import Task
from chalicelib.domain.tasks.ports import ReminderStore, TaskStore

T = TypeVar("T")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Stores:
    """Every port of one backend."""

    backend: str
    identity: IdentityStorage
    contacts: ContactStorage
    photos: PhotoBlobs
    files: FileStore
    history: HistoryStorage
    changelog: ChangeLogStore
    tasks: TaskStore
    reminders: ReminderStore
    deals: DealStorage
    cases: CaseStorage
    settings_lists: SettingsListStore
    money: MoneySettingsStore
    custom_fields: CustomFieldStore
    jobs: JobStore
    expiring: ExpiringItems
    notifications: NotificationStore
    mailer: Mailer
    queue: JobQueue
    # What only the outside world sees, per backend:
    upload: Callable[[str, str, bytes, str], None]  # a client's PUT of a file's object
    received: Callable[[], list[dict[str, Any]]]  # messages that reached the queue
    sent_mail: Callable[[], list[tuple[str, str]]]  # (to, subject) of mail sent

    # ---- arranging ----

    def tenant(self, name: str = "Acme") -> tuple[Tenant, Principal]:
        """A tenant with its owner (and the settings lists seeded: records point at them)."""
        tenant = Tenant(id=new_id(), name=name, created_at=NOW, updated_at=NOW)
        owner = user_of(tenant.id, f"owner@{name.lower()}.example", Role.OWNER)
        self.identity.create_tenant(tenant, owner)
        self.seed_lists(tenant.id)
        return tenant, Principal(tenant_id=tenant.id, user_id=owner.id, role=Role.OWNER)

    def seed_lists(self, tenant_id: str) -> None:
        lists = {}
        for spec in LIST_SPECS.values():
            entries = [
                ListEntry(id=new_id(), list_name=spec.name, order=n, created_at=NOW, updated_at=NOW, **values)
                for n, values in enumerate(spec.defaults, start=1)
            ]
            lists[spec.name] = (entries, spec.counters_of([e.model_dump(mode="json") for e in entries]))
        assert self.settings_lists.seed_lists(tenant_id, lists)

    def entry(self, tenant_id: str, list_name: str, position: int = 0) -> ListEntry:
        state = self.settings_lists.load_list(tenant_id, list_name, consistent=True)
        assert state is not None
        return state.entries[position]


def user_of(tenant_id: str, email: str, role: Role = Role.USER, **fields: Any) -> User:
    user_id = new_id()
    return User(
        id=user_id,
        tenant_id=tenant_id,
        email=email,
        name=email.split("@")[0],
        role=role,
        status=UserStatus.ACTIVE,
        created_at=NOW,
        created_by=user_id,
        updated_at=NOW,
        updated_by=user_id,
        **fields,
    )


def person(tenant_id: str, first: str, last: str, by: str, **fields: Any) -> Contact:
    return Contact(
        id=new_id(),
        tenant_id=tenant_id,
        kind=ContactKind.PERSON,
        first_name=first,
        last_name=last,
        managers=[by],
        created_at=NOW,
        created_by=by,
        updated_at=NOW,
        updated_by=by,
        **fields,
    )


def task(owner: Principal, title: str, due: datetime, **fields: Any) -> Task:
    return Task(
        id=new_id(),
        tenant_id=owner.tenant_id,
        title=title,
        due_at=due,
        responsible_id=owner.user_id,
        created_at=NOW,
        created_by=owner.user_id,
        updated_at=NOW,
        updated_by=owner.user_id,
        **fields,
    )


def pages(read: Callable[[PageRequest], Slice[T]], limit: int) -> list[list[T]]:
    """Every page of a paged read, following ``after``: each page at most ``limit``."""
    found: list[list[T]] = []
    page = PageRequest(limit=limit)
    while True:
        got = read(page)
        assert len(got.items) <= limit
        found.append(got.items)
        if got.after is None:
            return found
        json.dumps(got.after)  # a position must fit into a cursor
        page = PageRequest(limit=limit, after=got.after)


def walk(read: Callable[[PageRequest], Slice[T]], limit: int) -> list[T]:
    return [item for page in pages(read, limit) for item in page]


def _memory() -> Stores:
    from chalicelib.storage.memory import MemoryAdapters

    m = MemoryAdapters()
    return Stores(
        "memory",
        m.identity,
        m.contacts,
        m.photos,
        m.files,
        m.history,
        m.changelog,
        m.tasks,
        m.reminders,
        m.deals,
        m.cases,
        m.settings_lists,
        m.money,
        m.custom_fields,
        m.jobs,
        m.expiring,
        m.notifications,
        m.mailer,
        m.queue,
        upload=m.files.upload,
        received=m.queue.take,
        sent_mail=lambda: [(mail.to, mail.subject) for mail in m.mailer.sent],
    )


def _dynamo() -> Stores:
    from chalicelib.config import get_settings
    from chalicelib.storage.cases import CaseStore
    from chalicelib.storage.contacts.photos import ContactPhotoStore
    from chalicelib.storage.contacts.store import ContactStore
    from chalicelib.storage.deals import DealStore
    from chalicelib.storage.dynamo.aws import client
    from chalicelib.storage.identity import IdentityStore
    from chalicelib.storage.jobs.expiry import ExpiringItemsStore
    from chalicelib.storage.jobs.store import BackgroundJobStore
    from chalicelib.storage.mail import SesMailer
    from chalicelib.storage.notifications import NotificationStore as DynamoNotificationStore
    from chalicelib.storage.queues import Queue, queue_url
    from chalicelib.storage.records.changelog import ChangeLogStore as DynamoChangeLogStore
    from chalicelib.storage.records.files import FileStore as DynamoFileStore
    from chalicelib.storage.records.files import object_key
    from chalicelib.storage.records.history import HistoryStore
    from chalicelib.storage.settings.custom_fields import CustomFieldStore as DynamoCustomFieldStore
    from chalicelib.storage.settings.lists import MoneySettingsStore as DynamoMoneySettingsStore
    from chalicelib.storage.settings.lists import SettingsListStore as DynamoSettingsListStore
    from chalicelib.storage.tasks.reminders import ReminderStore as DynamoReminderStore
    from chalicelib.storage.tasks.store import TaskStore as DynamoTaskStore
    from tests.conftest import sent_emails

    settings = get_settings()
    files = DynamoFileStore()

    def upload(tenant_id: str, file_id: str, data: bytes, content_type: str) -> None:
        client("s3").put_object(
            Bucket=settings.bucket_name, Key=object_key(tenant_id, file_id), Body=data, ContentType=content_type
        )

    def received() -> list[dict[str, Any]]:
        sqs, url, found = client("sqs"), queue_url("jobs"), []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def sent_mail() -> list[tuple[str, str]]:
        return [(m.destinations["ToAddresses"][0], m.subject) for m in sent_emails()]

    return Stores(
        "dynamo",
        IdentityStore(),
        ContactStore(),
        ContactPhotoStore(),
        files,
        HistoryStore(files=files),
        DynamoChangeLogStore(),
        DynamoTaskStore(),
        DynamoReminderStore(),
        DealStore(),
        CaseStore(),
        DynamoSettingsListStore(),
        DynamoMoneySettingsStore(),
        DynamoCustomFieldStore(),
        BackgroundJobStore(),
        ExpiringItemsStore(),
        DynamoNotificationStore(),
        SesMailer(settings.mail_from),
        Queue("jobs"),
        upload=upload,
        received=received,
        sent_mail=sent_mail,
    )


@pytest.fixture(params=["memory", "dynamo"])
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "dynamo":
        request.getfixturevalue("aws")  # a fresh moto for this test (tests/conftest.py)
        return _dynamo()
    return _memory()
