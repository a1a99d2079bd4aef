"""Renaming a tag on a record: order kept, names merged by their folded form, a record changed meanwhile read again."""

from __future__ import annotations

from datetime import UTC
from typing import Any


def test_renamed_tags_keeps_order_and_merges_by_folded_name() -> None:
    from chalicelib.domain.records.tags import renamed_tags

    assert renamed_tags(["VIP", "Lead", "Board"], "lead", "Hot") == ["VIP", "Hot", "Board"]
    assert renamed_tags(["Lead", "VIP", "Customer"], "lead", "Customer") == ["Customer", "VIP"]
    assert renamed_tags(["Lead", "VIP"], "lead", None) == ["VIP"]
    assert renamed_tags(["Müller"], "muller", "MÜLLER") == ["MÜLLER"]
    assert renamed_tags(["VIP"], "lead", "Hot") == ["VIP"]


def test_retag_rereads_a_contact_changed_meanwhile() -> None:
    from datetime import datetime

    from chalicelib.domain.contacts.models import Contact
    from chalicelib.domain.records.tags import ContactTags
    from chalicelib.domain.shared.errors import PreconditionFailed
    from chalicelib.domain.shared.principal import Principal, Role

    now = datetime.now(UTC)
    stale = Contact(
        id="c1",
        tenant_id="t1",
        kind="person",
        first_name="A",
        last_name="B",
        tags=["Lead"],
        created_at=now,
        updated_at=now,
        version=1,
    )
    fresh = stale.model_copy(update={"version": 2, "tags": ["Lead", "New"]})

    class FakeContacts:
        def __init__(self) -> None:
            self.updates: list[tuple[list[str], int]] = []

        def update(self, principal: Any, tenant: Any, contact_id: str, changes: Any, *, expected_version: int) -> None:
            self.updates.append((changes.tags, expected_version))
            if expected_version != fresh.version:
                raise PreconditionFailed("stale")

        def get(self, principal: Any, contact_id: str) -> Contact:
            return fresh

    contacts = FakeContacts()
    admin = Principal(tenant_id="t1", user_id="u1", role=Role.ADMIN)
    unused: Any = None  # neither the tag registry nor the tenant is read on this path
    stand_in: Any = contacts
    ContactTags(stand_in, store=unused).retag(admin, unused, stale, "lead", "Hot")
    assert contacts.updates == [(["Hot"], 1), (["Hot", "New"], 2)]
