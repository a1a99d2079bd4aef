"""No lost update (issue 10, defect 1): every read that precedes a write is
strongly consistent, a client's If-Match must name the version that was read,
and the write is conditioned on that version.

moto never serves a stale read, so these tests make the store serve one: its
``get`` answers a copy taken before the latest change, as an eventually
consistent read on AWS may."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.storage.cases import CaseStore
from chalicelib.storage.contacts.store import ContactStore
from chalicelib.storage.deals import DealStore
from chalicelib.storage.dynamo.indexed_store import IndexedStore
from chalicelib.storage.dynamo.table import Table
from chalicelib.storage.tasks.store import TaskStore
from tests.conftest import bearer

# (path, body to create, field a first change sets, field the second change sets)
RECORDS = {
    "contact": (
        "/v1/contacts",
        {"kind": "person", "first_name": "Anna", "last_name": "Müller"},
        {"job_title": "CFO"},
        {"description": "Met at the fair"},
    ),
    "task": (
        "/v1/tasks",
        {"title": "Call back", "due_at": "2030-12-01T15:00:00+01:00"},
        {"description": "About the offer"},
        {"title": "Call back soon"},
    ),
    "deal": ("/v1/deals", {"title": "ERP rollout"}, {"description": "Phase one"}, {"title": "ERP rollout 2"}),
    "case": ("/v1/cases", {"title": "Partner summit"}, {"tags": ["Summit"]}, {"title": "Partner summit 2027"}),
}
STORES: dict[str, type[IndexedStore[Any]]] = {
    "contact": ContactStore,
    "task": TaskStore,
    "deal": DealStore,
    "case": CaseStore,
}


def _serve_stale(monkeypatch: pytest.MonkeyPatch, store: type[IndexedStore[Any]], stale: Any) -> None:
    def get(self: IndexedStore[Any], tenant_id: str, record_id: str) -> Any:
        return stale

    monkeypatch.setattr(store, "get", get)


@pytest.mark.parametrize("kind", RECORDS)
def test_a_stale_read_never_overwrites_a_newer_change(api, tenant, monkeypatch, kind):
    path, body, first, second = RECORDS[kind]
    token = tenant.owner_token
    status, created, _ = api.call("POST", path, body, headers=bearer(token))
    assert status == 201, created
    record_path = f"{path}/{created['id']}"
    stale = STORES[kind]().get(tenant.id, created["id"])
    assert stale is not None and stale.version == 1

    status, v2, _ = api.call("PATCH", record_path, first, headers=bearer(token, **{"If-Match": '"1"'}))
    assert status == 200 and v2["version"] == 2, v2

    # The store now reads version 1 while the table holds version 2; the
    # client rightly names version 2.
    with monkeypatch.context() as patched:
        _serve_stale(patched, STORES[kind], stale)
        status, answer, _ = api.call("PATCH", record_path, second, headers=bearer(token, **{"If-Match": '"2"'}))
        assert status == 412, answer

    status, current, _ = api.call("GET", record_path, headers=bearer(token))
    field, value = next(iter(first.items()))
    assert current["version"] == 2 and current[field] == v2[field] == value


@pytest.mark.parametrize("kind", RECORDS)
def test_a_delete_on_a_stale_read_is_refused(api, tenant, monkeypatch, kind):
    path, body, first, _ = RECORDS[kind]
    token = tenant.owner_token
    created = api.call("POST", path, body, headers=bearer(token))[1]
    stale = STORES[kind]().get(tenant.id, created["id"])
    assert api.call("PATCH", f"{path}/{created['id']}", first, headers=bearer(token, **{"If-Match": '"1"'}))[0] == 200

    with monkeypatch.context() as patched:
        _serve_stale(patched, STORES[kind], stale)
        # Without If-Match the delete is still conditioned on the version read.
        status, answer, _ = api.call("DELETE", f"{path}/{created['id']}", headers=bearer(token))
        assert status == 412, answer
    assert api.call("GET", f"{path}/{created['id']}", headers=bearer(token))[0] == 200


@pytest.mark.parametrize("kind", RECORDS)
def test_reads_for_writes_are_strongly_consistent(aws, monkeypatch, kind):
    asked: list[bool] = []

    def get(self: Table, key: dict[str, str], *, consistent: bool = False) -> None:
        asked.append(consistent)
        return None

    monkeypatch.setattr(Table, "get", get)
    assert STORES[kind]().get("tenant", "some-id") is None
    assert asked == [True]
