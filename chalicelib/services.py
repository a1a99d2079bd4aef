"""Composition root: domain services wired to their real adapters, built once
per container on first use. Tests reach the same wiring over moto."""
from __future__ import annotations

import functools

from chalicelib.config import get_settings
from chalicelib.domain import parents
from chalicelib.domain.auth import Auth
from chalicelib.domain.crm_access import CrmAccessSettings
from chalicelib.domain.groups import Groups
from chalicelib.domain.housekeeping import Housekeeping
from chalicelib.domain.notifications import Notifier
from chalicelib.domain.pagination import CursorCodec
from chalicelib.domain.tenants import Tenants
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

    return Contacts(ContactStore(), identity_store(), notifier(), job_queue())


# Records other records hang off: resolved lazily, registered at wiring time.
parents.register_parent("contact", lambda principal, record_id: contacts().parent_ref(principal, record_id))
parents.register_cascade("contact", lambda tenant_id, record_id: contacts().unlink_company(tenant_id, record_id))


_FACTORIES = (cursor_codec, identity_store, job_queue, housekeeping, auth, notifier, users, groups, tenants,
              crm_access, contacts)


def reset() -> None:
    """Forget every built service (tests change settings between cases)."""
    for factory in _FACTORIES:
        factory.cache_clear()
