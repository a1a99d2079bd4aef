"""People found the way users type (issue 10, defect 3): every word of the
query begins a word of the name, the company's name or an e-mail address, in
any order, with accents, case and every non-ASCII letter folded alike; still
one Query on the index (no Scan)."""

from __future__ import annotations

import pytest

from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Table
from tests.conftest import bearer


def person(api, token, first, last, **extra):
    status, body, _ = api.call(
        "POST",
        "/v1/contacts",
        {"kind": "person", "first_name": first, "last_name": last, **extra},
        headers=bearer(token),
    )
    assert status == 201, body
    return body


def company(api, token, name):
    status, body, _ = api.call("POST", "/v1/contacts", {"kind": "company", "company_name": name}, headers=bearer(token))
    assert status == 201, body
    return body


def found(api, token, q):
    status, page, _ = api.call("GET", "/v1/contacts?q=" + q.replace(" ", "%20"), headers=bearer(token))
    assert status == 200, page
    return [c.get("display_name") or c.get("company_name") for c in page["items"]]


@pytest.mark.parametrize(
    "q",
    [
        "Anna Müller",
        "Anna Mu",
        "anna mull",
        "Müller Anna",
        "mul ann",
        "MUELLER",
        "Müller, Anna",
        "anna@exa",
        "anna glob",
        "glob",
    ],
)
def test_a_person_is_found_by_what_users_type(api, tenant, q):
    token = tenant.owner_token
    globex = company(api, token, "Globex GmbH")
    person(
        api, token, "Anna", "Müller", company_id=globex["id"], details=[{"type": "email", "value": "anna@example.de"}]
    )
    person(api, token, "Anton", "Meier")
    # A company's name finds the company and its people.
    expected = ["Globex GmbH", "Anna Müller"] if q == "glob" else ["Anna Müller"]
    assert sorted(found(api, token, q)) == sorted(expected)


def test_letters_nfkd_does_not_separate_are_found(api, tenant):
    token = tenant.owner_token
    person(api, token, "Zoë", "Ørsted")
    person(api, token, "Łukasz", "Żółć")
    assert found(api, token, "orsted") == ["Zoë Ørsted"]
    assert found(api, token, "zoe ors") == ["Zoë Ørsted"]
    assert found(api, token, "lukasz") == ["Łukasz Żółć"]
    assert found(api, token, "zolc") == ["Łukasz Żółć"]
    assert found(api, token, "zoe zolc") == []


def test_a_contact_matching_several_words_is_listed_once(api, tenant):
    token = tenant.owner_token
    person(api, token, "Anna", "Annabel", details=[{"type": "email", "value": "anna@annabel.de"}])
    assert found(api, token, "ann") == ["Anna Annabel"]


def test_sort_with_q_is_refused_not_ignored(api, tenant):
    status, problem, _ = api.call("GET", "/v1/contacts?q=anna&sort=-name", headers=bearer(tenant.owner_token))
    assert status == 422 and "sort" in str(problem["errors"])
    status, problem, _ = api.call("GET", "/v1/contacts?q=a%20b", headers=bearer(tenant.owner_token))
    assert status == 422


def test_a_person_carries_and_is_found_by_its_company_name_after_a_rename(api, tenant, run_jobs):
    token = tenant.owner_token
    globex = company(api, token, "Globex")
    anna = person(api, token, "Anna", "Müller", company_id=globex["id"])
    assert anna["company_name"] == "Globex"
    status, _, _ = api.call(
        "PATCH",
        f"/v1/contacts/{globex['id']}",
        {"company_name": "Initech"},
        headers=bearer(token, **{"If-Match": '"1"'}),
    )
    assert status == 200
    run_jobs()
    assert api.call("GET", f"/v1/contacts/{anna['id']}", headers=bearer(token))[1]["company_name"] == "Initech"
    assert found(api, token, "anna initech") == ["Anna Müller"]
    assert found(api, token, "anna globex") == []
    status, unlinked, _ = api.call(
        "PATCH", f"/v1/contacts/{anna['id']}", {"company_id": None}, headers=bearer(token, **{"If-Match": '"2"'})
    )
    assert status == 200 and unlinked["company_name"] is None


def test_migrate_rebuilds_an_index_built_by_the_old_fold(api, tenant):
    from chalicelib.cli import migrate
    from chalicelib.storage.dynamo.reindex import INDEX_VERSION

    token = tenant.owner_token
    globex = company(api, token, "Globex")
    zoe = person(api, token, "Zoë", "Ørsted", company_id=globex["id"], tags=["Straße"])
    table = Table()
    # What the old fold (NFKD only) wrote: an entry under "ørsted", a tag
    # registry key "straße", no company name on the person, no marker.
    new_word = keys.contact_facet(tenant.id, "w#or")
    table.write_batch(deletes=[{"pk": new_word, "sk": keys.contact_by_word("orsted", zoe["id"])}])
    old_entry = {
        "pk": keys.contact_facet(tenant.id, "w#ør"),
        "sk": keys.contact_by_word("ørsted", zoe["id"]),
        "cid": zoe["id"],
        "tokens": ["zoe", "ørsted"],
        "managers": [tenant.owner_id],
        "access": "private",
    }
    table.write_batch(
        puts=[old_entry, {**keys.tag(tenant.id, "contact", "straße"), "name": "Straße"}],
        deletes=[keys.tag(tenant.id, "contact", "strasse")],
    )
    table.update(keys.contact(tenant.id, zoe["id"]), set={"company_name": None}, bump_version=False)
    assert found(api, token, "orsted") == []

    report = migrate()
    assert report["reindexed"] is True and report["records"]["contact"] == 2
    assert report["entries_removed"] == 1 and report["tags_rekeyed"] == 1 and report["records_changed"] == 1
    assert found(api, token, "orsted") == found(api, token, "zoe glob") == ["Zoë Ørsted"]
    assert table.get({"pk": old_entry["pk"], "sk": old_entry["sk"]}) is None
    assert table.get(keys.tag(tenant.id, "contact", "strasse"))["name"] == "Straße"
    assert api.call("GET", f"/v1/contacts/{zoe['id']}", headers=bearer(token))[1]["company_name"] == "Globex"
    assert migrate() == {"index_version": INDEX_VERSION, "reindexed": False}
