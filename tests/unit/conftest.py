"""Unit tests: the services of a real Container, every adapter replaced by its
in-memory twin (chalicelib/storage/memory). No moto, no HTTP, no AWS
settings: a test here runs in milliseconds.

    def test_something(unit):
        acme = unit.tenant()                      # a seeded tenant and its owner
        ann = acme.add_user("ann")                # an active user (a Principal)
        contact = unit.contacts.create(acme.owner, acme.record, NewContact(...))
        unit.fixed_clock.advance(days=1)          # every service reads this clock (also: the clock fixture)
        unit.run_jobs()                           # deliver queued cascades, e-mails, chunks

``unit`` *is* the container (every service by its name: ``unit.contacts``,
``unit.tasks``, ...); ``unit.memory`` holds the twins themselves (the queue's
messages, the mail sent, file uploads) and ``unit.tenant()`` makes tenants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.bootstrap.container import Container
from chalicelib.config import Settings
from chalicelib.domain.identity.models import Tenant, User, UserStatus
from chalicelib.domain.identity.tenants import NewTenant
from chalicelib.domain.shared.clock import new_id
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.storage.memory import MemoryAdapters
from chalicelib.storage.memory.notifications import SentMail

# Nothing here reaches AWS: the settings only name things.
SETTINGS = Settings(
    stage="test",
    region="eu-central-1",
    table_name="unit",
    bucket_name="unit",
    queue_prefix="unit-",
    aws_endpoint_url=None,
    cursor_secret_value="unit-cursor-secret",
    cursor_secret_arn=None,
    max_body_bytes=1024 * 1024,
    log_level="WARNING",
    mail_from="crm@example.com",
    public_url="https://crm.example",
)
# A Monday morning, so "today" and "this week" are easy to reason about.
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class FixedClock:
    """The clock every service reads; it moves only when a test moves it."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class UnitTenant:
    """A tenant made through the Tenants service (so seeded like a real one),
    its owner active, and helpers to add users."""

    unit: Unit
    id: str
    owner: Principal
    _names: set[str] = field(default_factory=set)

    @property
    def record(self) -> Tenant:
        """The tenant as stored now (services take it for time zone, phone region, module access)."""
        found = self.unit.memory.identity.get_tenant(self.id)
        assert found is not None
        return found

    def add_user(self, name: str = "user", role: Role | str = Role.USER) -> Principal:
        """An active user of this tenant (``name`` also makes the e-mail address)."""
        assert name not in self._names, f"{name} exists already in this tenant"
        self._names.add(name)
        now = self.unit.clock()
        user = User(
            id=new_id(),
            tenant_id=self.id,
            email=f"{name}@{self.id.lower()}.example",
            name=name,
            role=Role(role),
            status=UserStatus.ACTIVE,
            created_at=now,
            created_by=self.owner.user_id,
            updated_at=now,
            updated_by=self.owner.user_id,
        )
        self.unit.memory.identity.add_user(user)
        return Principal(tenant_id=self.id, user_id=user.id, role=user.role)

    def admin(self, name: str = "admin") -> Principal:
        return self.add_user(name, Role.ADMIN)

    def user(self, user: Principal) -> User:
        """A user as stored now."""
        found = self.unit.memory.identity.get_user(self.id, user.user_id)
        assert found is not None
        return found


@dataclass
class JobsRun:
    handled: int
    failed: list[tuple[dict[str, Any], Exception]]


class Unit(Container):
    """The composition root over in-memory twins, with a fixed clock."""

    def __init__(self) -> None:
        self.memory = MemoryAdapters()
        self.fixed_clock = FixedClock()
        super().__init__(SETTINGS, overrides={**self.memory.overrides(), "clock": self.fixed_clock})

    def tenant(self, name: str = "Acme", *, time_zone: str = "Europe/Berlin", phone_region: str = "DE") -> UnitTenant:
        """A new tenant (seeded by its TenantCreated subscribers) with its owner active."""
        tenant, owner, _ = self.tenants.create(
            NewTenant(
                name=name,
                owner_email=f"owner@{name.lower()}.example",
                owner_name="Owner",
                time_zone=time_zone,
                phone_region=phone_region,
            )
        )
        # The owner was invited (no password: hashing one costs 50 ms); make them active.
        self.memory.identity.update_user(
            owner, owner.model_copy(update={"status": UserStatus.ACTIVE}), expected_version=owner.version
        )
        return UnitTenant(self, tenant.id, Principal(tenant_id=tenant.id, user_id=owner.id, role=Role.OWNER))

    @property
    def mail(self) -> list[SentMail]:
        return self.memory.mailer.sent

    def run_jobs(self, *, raise_errors: bool = True) -> JobsRun:
        """Deliver what is queued (and what that queues) to its handler, as the
        jobs consumer would (bootstrap/jobs.py), until the queue is empty."""
        from chalicelib.bootstrap.jobs import JOB_KINDS

        run = JobsRun(0, [])
        while messages := self.memory.queue.take():
            for message in messages:
                model, handler = JOB_KINDS[message["kind"]]
                try:
                    handler(self, model.model_validate(message))
                except Exception as error:
                    if raise_errors:
                        raise
                    run.failed.append((message, error))
                run.handled += 1
        return run

    def queued(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The messages waiting on the jobs queue (of one kind), without taking them."""
        return [m for m in self.memory.queue.messages if kind is None or m["kind"] == kind]


@pytest.fixture
def unit() -> Unit:
    return Unit()


@pytest.fixture
def clock(unit: Unit) -> FixedClock:
    return unit.fixed_clock
