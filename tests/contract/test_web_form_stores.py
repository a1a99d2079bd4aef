"""The web form stores' contract, asserted of the in-memory twin and the
DynamoDB adapter alike (WEB-1..3): keys always lead to their form, writes are
conditioned on the version read, and a full rate window counts nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.contacts.models import ContactKind
from chalicelib.domain.forms.models import FormField, WebForm, new_key
from chalicelib.domain.shared.clock import new_id
from chalicelib.domain.shared.errors import Conflict, PreconditionFailed
from chalicelib.domain.shared.limits import Counter
from chalicelib.domain.shared.pagination import PageRequest

NOW = datetime(2030, 5, 6, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    if request.param == "memory":
        from chalicelib.storage.memory.forms import MemoryWebFormStore
        from chalicelib.storage.memory.limits import MemoryRateCounters

        yield MemoryWebFormStore(), MemoryRateCounters()
    else:
        request.getfixturevalue("aws")
        from chalicelib.storage.forms import WebFormStore
        from chalicelib.storage.limits import DynamoRateCounters

        yield WebFormStore(), DynamoRateCounters()


def form(tenant_id: str = "t1", **changes: Any) -> WebForm:
    fields: dict[str, Any] = {"key": new_key(), **changes}
    return WebForm(
        id=new_id(),
        tenant_id=tenant_id,
        name="Contact us",
        kind=ContactKind.PERSON,
        fields=[FormField(field="first_name", required=True), FormField(field="last_name", required=True)],  # type: ignore[arg-type]
        return_url="https://www.acme.example/thanks",
        allowed_origins=["https://www.acme.example"],
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )


def test_a_key_leads_to_its_form_and_a_new_key_retires_the_old(stores):
    store, _ = stores
    made = store.create(form(), by="admin")
    assert store.find_by_key(made.key) == ("t1", made.id)
    assert store.get("t1", made.id) == made
    assert store.get("t2", made.id) is None, "another tenant's id finds nothing"
    rotated = store.update(made, made.model_copy(update={"key": new_key()}), by="admin")
    assert rotated.version == 2
    assert store.find_by_key(made.key) is None and store.find_by_key(rotated.key) == ("t1", made.id)
    with pytest.raises(PreconditionFailed):
        store.update(made, made.model_copy(update={"name": "stale"}), by="admin")
    store.delete(rotated, by="admin", at=NOW)
    assert store.get("t1", made.id) is None and store.find_by_key(rotated.key) is None


def test_a_key_is_never_given_twice(stores):
    store, _ = stores
    first = store.create(form(), by="admin")
    with pytest.raises(Conflict):
        store.create(form(key=first.key), by="admin")


def test_a_tenants_forms_are_listed_newest_first_in_pages(stores):
    store, _ = stores
    made = [store.create(form(), by="admin") for _ in range(3)]
    store.create(form("t2"), by="admin")
    page = store.list_forms("t1", PageRequest(limit=2))
    assert [f.id for f in page.items] == [made[2].id, made[1].id] and page.after
    rest = store.list_forms("t1", PageRequest(limit=2, after=page.after))
    assert [f.id for f in rest.items] == [made[0].id] and rest.after is None


def test_a_full_window_counts_nothing_more_and_windows_and_subjects_are_apart(stores):
    # The forms' counters are the shared ones (tests/contract/test_rate_counters.py holds the rest).
    _, counters = stores
    expires = NOW + timedelta(hours=1)

    def take(tenant: str, scope: str, subject: str, window: int) -> bool:
        return counters.take(Counter(scope, subject, window, tenant, sweep=True), 3, expires) is not None

    assert [take("t1", "form-ip", "abc", 7) for _ in range(5)] == [True, True, True, False, False]
    assert take("t1", "form-ip", "abc", 8), "the next window is fresh"
    assert take("t1", "form-ip", "def", 7), "another client"
    assert take("t1", "form", "abc", 7), "another scope"
    assert take("t2", "form-ip", "abc", 7), "another tenant"
