"""A bulk change that loses a race to another edit is tried once more (ContactBulk
over a stand-in contacts service)."""

from __future__ import annotations

import pytest

from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed


class FakeContacts:
    """Contacts service stand-in whose update loses the race ``losses`` times."""

    def __init__(self, losses, error=PreconditionFailed):
        from chalicelib.domain.contacts.models import Contact

        self.losses, self.error, self.updates = losses, error, []
        self.contact = Contact(
            id="c1",
            tenant_id="t1",
            kind="person",
            first_name="A",
            last_name="B",
            created_at="2026-01-01T00:00:00Z",
            updated_at="2026-01-01T00:00:00Z",
            managers=["u1"],
        )

    def get(self, principal, contact_id, operation):
        if contact_id != "c1":
            raise NotFound("The contact does not exist.")
        return self.contact

    def update(self, principal, tenant, contact_id, changes, *, expected_version):
        self.updates.append(expected_version)
        if len(self.updates) <= self.losses:
            raise self.error("changed meanwhile")
        return self.contact


@pytest.mark.parametrize("losses, expected", [(0, None), (1, None), (2, (409, "conflict"))])
@pytest.mark.parametrize("error", [PreconditionFailed, Conflict])
def test_a_lost_race_is_retried_once(losses, expected, error):
    from chalicelib.domain.contacts.bulk import BulkRequest, ContactBulk
    from chalicelib.domain.shared.principal import Principal, Role

    contacts = FakeContacts(losses, error)
    service = ContactBulk(contacts, jobs=None, identity=None, queue=None)
    principal = Principal(tenant_id="t1", user_id="u1", role=Role.USER)
    request = BulkRequest(ids=["c1"], action="add_tags", tags=["x"])
    failure = service.apply(principal, None, request, "c1")
    assert (None if failure is None else (failure["status"], failure["reason"])) == expected
    assert len(contacts.updates) == min(losses + 1, 2)
