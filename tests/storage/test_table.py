"""The repository core over moto: conditional create, versioned update,
transactions that roll back, and paged queries that stay full under filtering."""

import pytest

from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.storage.dynamo.table import Check, Delete, Put, SortKey, Table, Update

pytestmark = pytest.mark.usefixtures("aws")


def item(n: int, **extra):
    return {"pk": "T#t1#THING", "sk": f"THING#{n:04d}", "n": n, **extra}


def test_create_refuses_an_existing_key():
    table = Table()
    created = table.create(item(1, name="a"))
    assert created["version"] == 1
    with pytest.raises(Conflict):
        table.create(item(1, name="b"))
    assert table.get({"pk": "T#t1#THING", "sk": "THING#0001"})["name"] == "a"


def test_update_checks_the_version():
    table = Table()
    table.create(item(1, name="a"))
    key = {"pk": "T#t1#THING", "sk": "THING#0001"}
    updated = table.update(key, set={"name": "b"}, expected_version=1)
    assert (updated["name"], updated["version"]) == ("b", 2)
    # A writer holding the old version loses, and nothing is overwritten.
    with pytest.raises(PreconditionFailed):
        table.update(key, set={"name": "stale"}, expected_version=1)
    assert table.get(key)["name"] == "b"


def test_update_of_a_missing_item_is_not_found():
    with pytest.raises(NotFound):
        Table().update({"pk": "T#t1#THING", "sk": "THING#9999"}, set={"x": 1}, expected_version=1)


def test_update_with_none_removes_the_attribute():
    table = Table()
    table.create(item(1, name="a", note="x"))
    updated = table.update({"pk": "T#t1#THING", "sk": "THING#0001"}, set={"note": None}, expected_version=1)
    assert "note" not in updated


def test_counter_add_is_atomic_and_unversioned():
    table = Table()
    key = {"pk": "T#t1#COUNTER", "sk": "INVOICE"}
    table.update(key, add={"next": 1}, bump_version=False, must_exist=False)
    after = table.update(key, add={"next": 1}, bump_version=False, must_exist=False)
    assert after["next"] == 2 and "version" not in after


def test_transaction_rolls_back_every_write_when_one_condition_fails():
    table = Table()
    table.create(item(1))
    marker = {"pk": "T#t1#UNIQUE", "sk": "EMAIL#a@example.org"}
    table.create(dict(marker))
    taken = Conflict("That e-mail is taken.")
    with pytest.raises(Conflict) as caught:
        table.transact(
            [
                Put(item(2)),
                Update({"pk": "T#t1#THING", "sk": "THING#0001"}, set={"touched": True}, expected_version=1),
                Put(dict(marker), on_conflict=taken),
            ]
        )
    assert caught.value is taken
    assert table.get({"pk": "T#t1#THING", "sk": "THING#0002"}) is None
    assert "touched" not in table.get({"pk": "T#t1#THING", "sk": "THING#0001"})


def test_transaction_with_stale_version_is_precondition_failed():
    table = Table()
    table.create(item(1))
    table.update({"pk": "T#t1#THING", "sk": "THING#0001"}, set={"a": 1}, expected_version=1)
    with pytest.raises(PreconditionFailed):
        table.transact([Delete({"pk": "T#t1#THING", "sk": "THING#0001"}, expected_version=1), Put(item(3))])
    assert table.get({"pk": "T#t1#THING", "sk": "THING#0003"}) is None


def test_transaction_condition_check_guards_the_write():
    table = Table()
    with pytest.raises(Conflict):
        table.transact([Check({"pk": "T#t1#PARENT", "sk": "META"}, "attribute_exists(pk)"), Put(item(1))])
    assert table.get({"pk": "T#t1#THING", "sk": "THING#0001"}) is None


def test_delete_if_keeps_items_whose_condition_no_longer_holds():
    table = Table()
    table.create(item(1, ttl=100))
    key = {"pk": "T#t1#THING", "sk": "THING#0001"}
    assert table.delete_if(key, "ttl", "<=", 50) is False
    assert table.delete_if(key, "ttl", "<=", 100) is True
    assert table.get(key) is None
    assert table.delete_if(key, "ttl", "<=", 100) is False


def test_query_pages_are_full_and_continue_where_they_stopped():
    table = Table()
    for n in range(1, 26):
        table.create(item(n))
    seen, after, pages = [], None, 0
    while True:
        page = table.query("T#t1#THING", sort=SortKey.begins_with("THING#"), page=PageRequest(limit=10, after=after))
        seen += [i["n"] for i in page.items]
        pages += 1
        if page.after is None:
            break
        after = page.after
    assert seen == list(range(1, 26)) and pages == 3


def test_query_fills_pages_with_visible_items_only():
    table = Table()
    for n in range(1, 41):
        table.create(item(n, private=(n % 3 != 0)))
    visible = lambda i: not i["private"]  # noqa: E731
    first = table.query("T#t1#THING", page=PageRequest(limit=5), visible=visible)
    assert [i["n"] for i in first.items] == [3, 6, 9, 12, 15]
    second = table.query("T#t1#THING", page=PageRequest(limit=5, after=first.after), visible=visible)
    assert [i["n"] for i in second.items] == [18, 21, 24, 27, 30]
    rest = table.query("T#t1#THING", page=PageRequest(limit=5, after=second.after), visible=visible)
    assert [i["n"] for i in rest.items] == [33, 36, 39] and rest.after is None


def test_query_newest_first_and_exact_last_page():
    table = Table()
    for n in range(1, 5):
        table.create(item(n))
    page = table.query("T#t1#THING", page=PageRequest(limit=4), newest_first=True)
    assert [i["n"] for i in page.items] == [4, 3, 2, 1]
    assert page.after is None
