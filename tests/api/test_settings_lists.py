"""Settings lists (SET-3, SET-4, SET-7, SET-9, SET-10) through the real API."""

import pytest

from chalicelib.domain.shared.errors import Conflict, ValidationFailed
from chalicelib.domain.shared.principal import Principal, Role
from tests.conftest import bearer

LISTS = ("contact-types", "temperatures", "history-categories", "task-categories", "deal-stages")


def use(tenant_id, list_name, old_id, new_id, **options):
    """What a referencing record's transaction does (contacts, tasks, deals)."""
    from chalicelib.storage.dynamo.table import Table
    from chalicelib.storage.settings.lists import usage_ops

    Table().transact(usage_ops(tenant_id, list_name, old_id, new_id, **options))


def entries(api, tenant, list_name, token=None):
    status, body, _ = api.call("GET", f"/v1/settings/{list_name}", headers=bearer(token or tenant.owner_token))
    assert status == 200, body
    assert body["next_cursor"] is None
    return body["items"]


def by_name(api, tenant, list_name, name):
    return next(e for e in entries(api, tenant, list_name) if e["name"] == name)


def owner(tenant):
    return Principal(tenant_id=tenant.id, user_id=tenant.owner_id, role=Role.OWNER)


# ---- defaults ----


def test_a_new_tenant_has_the_reference_defaults(api, tenant):
    names = {name: [e["name"] for e in entries(api, tenant, name)] for name in LISTS}
    assert names["contact-types"] == ["Client", "Supplier", "Partner", "Competitor"]
    assert names["temperatures"] == ["Cold", "Warm", "Hot"]
    assert names["history-categories"] == ["Note", "E-mail", "Phone call", "Appointment"]
    assert names["task-categories"] == [
        "Phone call",
        "Opportunity",
        "Demo",
        "E-mail",
        "Fax",
        "Follow-up",
        "Lunch",
        "Appointment",
        "Note",
        "Delivery",
        "Social networks",
        "Thank-you",
    ]
    stages = [(e["name"], e["probability"], e["status"]) for e in entries(api, tenant, "deal-stages")]
    assert stages == [
        ("Initial contact", 1, "open"),
        ("Initial fit criteria", 2, "open"),
        ("Suspect", 3, "open"),
        ("Need assessment", 20, "open"),
        ("Qualified prospect", 50, "open"),
        ("Proposal", 75, "open"),
        ("Negotiations", 90, "open"),
        ("Closed won", 100, "won"),
        ("Closed lost", 0, "lost"),
    ]
    first = entries(api, tenant, "temperatures")[0]
    assert first["order"] == 1 and first["in_use"] == 0 and first["version"] == 1
    assert first["created_by"] == tenant.owner_id and first["color"].startswith("#")
    assert "icon" not in first and "probability" not in first, "each list shows its own fields"


def test_seeding_again_writes_nothing_twice(api, tenant):
    from chalicelib.bootstrap import container
    from chalicelib.domain.shared.events import TenantCreated

    before = {name: entries(api, tenant, name) for name in LISTS}
    container().events.publish(TenantCreated(tenant_id=tenant.id, owner_id=tenant.owner_id))
    assert {name: entries(api, tenant, name) for name in LISTS} == before


def test_a_tenant_from_before_the_lists_is_seeded_on_first_use(api, tenant):
    from chalicelib.bootstrap import container

    legacy = Principal(tenant_id="LEGACYTENANT", user_id="someone", role=Role.USER)
    assert [e.name for e in container().settings_lists.list(legacy, "temperatures")] == ["Cold", "Warm", "Hot"]
    assert len(container().settings_lists.list(legacy, "temperatures")) == 3


def test_every_crm_user_reads_but_only_owners_and_admins_change(api, tenant):
    _, user_token = tenant.add_user("u@acme.example")
    _, admin_token = tenant.add_user("a@acme.example", role="admin")
    client = by_name(api, tenant, "contact-types", "Client")
    assert [e["name"] for e in entries(api, tenant, "contact-types", user_token)][0] == "Client"
    user = bearer(user_token, **{"If-Match": '"1"'})
    assert api.call("POST", "/v1/settings/contact-types", {"name": "Lead"}, headers=user)[0] == 403
    assert api.call("PATCH", f"/v1/settings/contact-types/{client['id']}", {"name": "X"}, headers=user)[0] == 403
    assert api.call("DELETE", f"/v1/settings/contact-types/{client['id']}", headers=user)[0] == 403
    ids = [e["id"] for e in entries(api, tenant, "contact-types")]
    assert api.call("PUT", "/v1/settings/contact-types/order", {"ids": ids[::-1]}, headers=user)[0] == 403
    assert api.call("POST", "/v1/settings/contact-types", {"name": "Lead"}, headers=bearer(admin_token))[0] == 201


def test_module_switched_off_closes_the_lists(api, tenant):
    body = {"enabled": False, "restricted": False, "user_ids": [], "group_ids": []}
    assert api.call("PUT", "/v1/settings/crm-access", body, headers=bearer(tenant.owner_token))[0] == 200
    assert api.call("GET", "/v1/settings/contact-types", headers=bearer(tenant.owner_token))[0] == 403


# ---- create, change ----


def test_created_entries_go_to_the_end_with_their_fields(api, tenant):
    owner_h = bearer(tenant.owner_token)
    status, stage, headers = api.call(
        "POST",
        "/v1/settings/deal-stages",
        {"name": "  Contract sent ", "probability": 95, "status": "open"},
        headers=owner_h,
    )
    assert status == 201 and headers["etag"] == '"1"'
    assert (stage["name"], stage["order"], stage["probability"], stage["in_use"]) == ("Contract sent", 10, 95, 0)
    assert stage["color"].startswith("#")
    assert entries(api, tenant, "deal-stages")[-1]["id"] == stage["id"]
    status, one, _ = api.call("GET", f"/v1/settings/deal-stages/{stage['id']}", headers=owner_h)
    assert status == 200 and one == stage
    status, category, _ = api.call("POST", "/v1/settings/task-categories", {"name": "Visit"}, headers=owner_h)
    assert status == 201 and category["icon"] is None


@pytest.mark.parametrize(
    "list_name, body, field",
    [
        ("temperatures", {"name": "Lukewarm"}, "color"),
        ("temperatures", {"name": "Lukewarm", "color": "red"}, "color"),
        ("deal-stages", {"name": "Big", "probability": 101}, "probability"),
        ("deal-stages", {"name": "Big", "probability": 5, "status": "pending"}, "status"),
        ("contact-types", {"name": "   "}, "name"),
        ("contact-types", {"name": "Lead", "color": "#ffffff"}, "color"),
        ("task-categories", {"name": "Visit", "icon": "Not An Icon!"}, "icon"),
    ],
)
def test_invalid_entries_are_422_naming_the_field(api, tenant, list_name, body, field):
    status, problem, _ = api.call("POST", f"/v1/settings/{list_name}", body, headers=bearer(tenant.owner_token))
    assert status == 422 and field in {e["field"] for e in problem["errors"]}


def test_names_are_unique_per_list_ignoring_case(api, tenant, other_tenant):
    owner_h = bearer(tenant.owner_token)
    status, problem, _ = api.call("POST", "/v1/settings/contact-types", {"name": " client "}, headers=owner_h)
    assert status == 409 and "client" in problem["detail"].lower()
    # Another list, or another tenant, may use the name.
    assert api.call("POST", "/v1/settings/history-categories", {"name": "Client"}, headers=owner_h)[0] == 201
    assert (
        api.call("POST", "/v1/settings/contact-types", {"name": "Lead"}, headers=bearer(other_tenant.owner_token))[0]
        == 201
    )
    supplier = by_name(api, tenant, "contact-types", "Supplier")
    path = f"/v1/settings/contact-types/{supplier['id']}"
    assert api.call("PATCH", path, {"name": "PARTNER"}, headers={**owner_h, "If-Match": '"1"'})[0] == 409
    # A change of case only is a rename of the same entry.
    status, renamed, _ = api.call("PATCH", path, {"name": "SUPPLIER"}, headers={**owner_h, "If-Match": '"1"'})
    assert status == 200 and renamed["name"] == "SUPPLIER" and renamed["version"] == 2
    status, renamed, _ = api.call("PATCH", path, {"name": "Vendor"}, headers={**owner_h, "If-Match": '"2"'})
    assert status == 200
    # The old name is free again.
    assert api.call("POST", "/v1/settings/contact-types", {"name": "Supplier"}, headers=owner_h)[0] == 201


def test_changes_name_their_version(api, tenant):
    owner_h = bearer(tenant.owner_token)
    hot = by_name(api, tenant, "temperatures", "Hot")
    path = f"/v1/settings/temperatures/{hot['id']}"
    assert api.call("PATCH", path, {"color": "#ff0000"}, headers=owner_h)[0] == 428
    status, changed, headers = api.call("PATCH", path, {"color": "#ff0000"}, headers={**owner_h, "If-Match": '"1"'})
    assert status == 200 and changed["color"] == "#ff0000" and changed["name"] == "Hot"
    assert headers["etag"] == '"2"'
    assert api.call("PATCH", path, {"name": "Boiling"}, headers={**owner_h, "If-Match": '"1"'})[0] == 412
    assert by_name(api, tenant, "temperatures", "Hot")["color"] == "#ff0000"
    # null leaves a required field as it is; for the optional icon it removes it.
    assert api.call("PATCH", path, {"color": None}, headers={**owner_h, "If-Match": '"2"'})[1]["color"] == "#ff0000"
    call = by_name(api, tenant, "task-categories", "Phone call")
    status, changed, _ = api.call(
        "PATCH", f"/v1/settings/task-categories/{call['id']}", {"icon": None}, headers={**owner_h, "If-Match": '"1"'}
    )
    assert status == 200 and changed["icon"] is None
    assert by_name(api, tenant, "task-categories", "Phone call")["icon"] is None


# ---- order ----


def test_reorder_takes_exactly_the_lists_ids(api, tenant):
    owner_h = bearer(tenant.owner_token)
    current = entries(api, tenant, "temperatures")
    ids = [e["id"] for e in current]
    status, body, _ = api.call("PUT", "/v1/settings/temperatures/order", {"ids": ids[::-1]}, headers=owner_h)
    assert status == 200 and [e["name"] for e in body["items"]] == ["Hot", "Warm", "Cold"]
    assert [e["order"] for e in body["items"]] == [1, 2, 3]
    assert [e["name"] for e in entries(api, tenant, "temperatures")] == ["Hot", "Warm", "Cold"]
    warm = by_name(api, tenant, "temperatures", "Warm")
    assert warm["version"] == 1, "an entry that kept its place is unchanged"
    other = entries(api, tenant, "contact-types")[0]["id"]
    for bad in ([ids[0], ids[1]], ids + [ids[0]], ids[:2] + [other], ids + ["nope"], []):
        status, problem, _ = api.call("PUT", "/v1/settings/temperatures/order", {"ids": bad}, headers=owner_h)
        assert status == 422 and problem["errors"][0]["field"] == "ids", bad
    assert [e["name"] for e in entries(api, tenant, "temperatures")] == ["Hot", "Warm", "Cold"]


def test_a_reorder_based_on_a_stale_list_fails(api, tenant):
    from chalicelib.bootstrap import container
    from chalicelib.storage.settings.lists import SettingsListStore

    store = SettingsListStore()
    state = store.load_list(tenant.id, "temperatures", consistent=True)
    api.call(
        "POST", "/v1/settings/temperatures", {"name": "Tepid", "color": "#aaaaaa"}, headers=bearer(tenant.owner_token)
    )
    first = state.entries[0]
    with pytest.raises(Conflict):
        store.reorder(
            tenant.id, "temperatures", [(first, 3)], list_version=state.version, at=first.created_at, by=tenant.owner_id
        )
    assert [e.name for e in container().settings_lists.list(owner(tenant), "temperatures")][0] == "Cold"


# ---- delete ----


def test_an_entry_in_use_cannot_be_deleted(api, tenant):
    owner_h = bearer(tenant.owner_token)
    client = by_name(api, tenant, "contact-types", "Client")
    use(tenant.id, "contact-types", None, client["id"])
    use(tenant.id, "contact-types", None, client["id"])
    assert by_name(api, tenant, "contact-types", "Client")["in_use"] == 2
    assert by_name(api, tenant, "contact-types", "Client")["version"] == 1, "usage is not an edit"
    status, problem, _ = api.call("DELETE", f"/v1/settings/contact-types/{client['id']}", headers=owner_h)
    assert status == 409 and "2 records" in problem["detail"]
    # One record moves to another type, the other clears its type.
    supplier = by_name(api, tenant, "contact-types", "Supplier")
    use(tenant.id, "contact-types", client["id"], supplier["id"])
    use(tenant.id, "contact-types", client["id"], None)
    assert by_name(api, tenant, "contact-types", "Supplier")["in_use"] == 1
    assert api.call("DELETE", f"/v1/settings/contact-types/{client['id']}", headers=owner_h)[0] == 204
    assert "Client" not in [e["name"] for e in entries(api, tenant, "contact-types")]
    assert api.call("GET", f"/v1/settings/contact-types/{client['id']}", headers=owner_h)[0] == 404
    assert api.call("DELETE", f"/v1/settings/contact-types/{client['id']}", headers=owner_h)[0] == 404
    assert api.call("POST", "/v1/settings/contact-types", {"name": "client"}, headers=owner_h)[0] == 201


def test_a_deleted_or_unknown_entry_cannot_be_used(api, tenant):
    owner_h = bearer(tenant.owner_token)
    cold = by_name(api, tenant, "temperatures", "Cold")
    assert api.call("DELETE", f"/v1/settings/temperatures/{cold['id']}", headers=owner_h)[0] == 204
    for entry_id in (cold["id"], "01NOSUCHENTRY"):
        with pytest.raises(ValidationFailed) as failed:
            use(tenant.id, "temperatures", None, entry_id)
        assert failed.value.errors[0].field == "temperature_id"
    with pytest.raises(ValidationFailed) as failed:
        use(tenant.id, "contact-types", None, "01NOSUCHENTRY", field="company_type")
    assert failed.value.errors[0].field == "company_type"
    # A failed reference changes no counter.
    warm = by_name(api, tenant, "temperatures", "Warm")
    with pytest.raises(ValidationFailed):
        use(tenant.id, "temperatures", warm["id"], cold["id"])
    assert by_name(api, tenant, "temperatures", "Warm")["in_use"] == 0
    from chalicelib.storage.settings.lists import usage_ops

    assert usage_ops(tenant.id, "temperatures", warm["id"], warm["id"]) == [], "no change, no operation"


def test_a_delete_racing_a_new_use_fails(api, tenant):
    """The delete's condition is in_use = 0 inside its transaction: a use that
    lands between the check and the write makes it fail."""
    from chalicelib.domain.settings.lists import CounterChange
    from chalicelib.storage.settings.lists import SettingsListStore

    store = SettingsListStore()
    state = store.load_list(tenant.id, "contact-types", consistent=True)
    partner = next(e for e in state.entries if e.name == "Partner")
    assert partner.in_use == 0
    use(tenant.id, "contact-types", None, partner.id)  # a contact is saved meanwhile
    with pytest.raises(Conflict):
        store.delete_entry(
            tenant.id,
            partner,
            CounterChange({"count": -1}, "count", Conflict("last")),
            at=partner.created_at,
            by=tenant.owner_id,
            in_use=Conflict("in use"),
        )
    assert by_name(api, tenant, "contact-types", "Partner")["in_use"] == 1


def test_the_last_entry_of_a_list_stays(api, tenant):
    owner_h = bearer(tenant.owner_token)
    *others, last = entries(api, tenant, "history-categories")
    for entry in others:
        assert api.call("DELETE", f"/v1/settings/history-categories/{entry['id']}", headers=owner_h)[0] == 204
    status, problem, _ = api.call("DELETE", f"/v1/settings/history-categories/{last['id']}", headers=owner_h)
    assert status == 409 and "last" in problem["detail"]
    assert [e["name"] for e in entries(api, tenant, "history-categories")] == ["Appointment"]


def test_delete_with_a_stale_if_match_is_412(api, tenant):
    owner_h = bearer(tenant.owner_token)
    cold = by_name(api, tenant, "temperatures", "Cold")
    api.call(
        "PATCH", f"/v1/settings/temperatures/{cold['id']}", {"name": "Icy"}, headers={**owner_h, "If-Match": '"1"'}
    )
    assert (
        api.call("DELETE", f"/v1/settings/temperatures/{cold['id']}", headers={**owner_h, "If-Match": '"1"'})[0] == 412
    )
    assert (
        api.call("DELETE", f"/v1/settings/temperatures/{cold['id']}", headers={**owner_h, "If-Match": '"2"'})[0] == 204
    )


def test_the_last_won_and_lost_stages_stay(api, tenant):
    owner_h = bearer(tenant.owner_token)
    won = by_name(api, tenant, "deal-stages", "Closed won")
    lost = by_name(api, tenant, "deal-stages", "Closed lost")
    for stage in (won, lost):
        status, problem, _ = api.call("DELETE", f"/v1/settings/deal-stages/{stage['id']}", headers=owner_h)
        assert status == 409 and f"last {stage['status']}" in problem["detail"]
    # Nor may a status change leave no lost stage.
    status, problem, _ = api.call(
        "PATCH", f"/v1/settings/deal-stages/{lost['id']}", {"status": "open"}, headers={**owner_h, "If-Match": '"1"'}
    )
    assert status == 409 and "last lost" in problem["detail"]
    status, problem, _ = api.call(
        "PATCH", f"/v1/settings/deal-stages/{won['id']}", {"status": "lost"}, headers={**owner_h, "If-Match": '"1"'}
    )
    assert status == 409 and "last won" in problem["detail"]
    # With a second won stage, the first may go or change.
    proposal = by_name(api, tenant, "deal-stages", "Proposal")
    status, changed, _ = api.call(
        "PATCH",
        f"/v1/settings/deal-stages/{proposal['id']}",
        {"status": "won", "probability": 100},
        headers={**owner_h, "If-Match": '"1"'},
    )
    assert status == 200 and (changed["status"], changed["probability"]) == ("won", 100)
    assert (
        api.call(
            "PATCH", f"/v1/settings/deal-stages/{won['id']}", {"status": "lost"}, headers={**owner_h, "If-Match": '"1"'}
        )[0]
        == 200
    )
    # Now "Proposal" is the only won stage; two are lost.
    assert api.call("DELETE", f"/v1/settings/deal-stages/{proposal['id']}", headers=owner_h)[0] == 409
    assert api.call("DELETE", f"/v1/settings/deal-stages/{lost['id']}", headers=owner_h)[0] == 204
    assert api.call("DELETE", f"/v1/settings/deal-stages/{won['id']}", headers=owner_h)[0] == 409
    statuses = [e["status"] for e in entries(api, tenant, "deal-stages")]
    assert statuses.count("won") == 1 and statuses.count("lost") == 1


def test_open_stages_go_freely_down_to_won_and_lost(api, tenant):
    owner_h = bearer(tenant.owner_token)
    for stage in entries(api, tenant, "deal-stages"):
        if stage["status"] == "open":
            assert api.call("DELETE", f"/v1/settings/deal-stages/{stage['id']}", headers=owner_h)[0] == 204
    assert [e["name"] for e in entries(api, tenant, "deal-stages")] == ["Closed won", "Closed lost"]


# ---- task categories: delete with a replacement ----


def test_replace_with_must_name_another_task_category(api, tenant):
    owner_h = bearer(tenant.owner_token)
    fax = by_name(api, tenant, "task-categories", "Fax")
    note = by_name(api, tenant, "task-categories", "Note")
    client = by_name(api, tenant, "contact-types", "Client")
    path = f"/v1/settings/task-categories/{fax['id']}"
    for replacement in (fax["id"], client["id"], "01NOSUCHENTRY"):
        status, problem, _ = api.call("DELETE", f"{path}?replace_with={replacement}", headers=owner_h)
        assert status == 422 and problem["errors"][0]["field"] == "query.replace_with", replacement
    # Other lists take no replacement.
    status, problem, _ = api.call(
        "DELETE", f"/v1/settings/contact-types/{client['id']}?replace_with={client['id']}", headers=owner_h
    )
    assert status == 422 and problem["errors"][0]["field"] == "query.replace_with"
    # Not in use: a valid replacement is accepted and the category goes.
    assert api.call("DELETE", f"{path}?replace_with={note['id']}", headers=owner_h)[0] == 204
    assert "Fax" not in [e["name"] for e in entries(api, tenant, "task-categories")]


def test_a_task_category_in_use_goes_only_with_a_replacement(api, tenant):
    from chalicelib.bootstrap import container

    owner_h = bearer(tenant.owner_token)
    lunch = by_name(api, tenant, "task-categories", "Lunch")
    note = by_name(api, tenant, "task-categories", "Note")
    use(tenant.id, "task-categories", None, lunch["id"])
    path = f"/v1/settings/task-categories/{lunch['id']}"
    status, problem, _ = api.call("DELETE", path, headers=owner_h)
    assert status == 409 and "1 record" in problem["detail"] and "replace_with" in problem["detail"]
    published = []

    class Recorder:
        def publish(self, event):
            published.append(event)

    container().override(events=Recorder())
    assert api.call("DELETE", f"{path}?replace_with={note['id']}", headers=owner_h)[0] == 204
    assert [(e.list_name, e.old_id, e.new_id) for e in published] == [("task-categories", lunch["id"], note["id"])]
    assert "Lunch" not in [e["name"] for e in entries(api, tenant, "task-categories")]
    assert api.call("GET", path, headers=owner_h)[0] == 404
    # Tasks still pointing at it resolve to the replacement; no new task may use it.
    assert container().settings_lists.resolve(owner(tenant), "task-categories", lunch["id"]).name == "Note"
    with pytest.raises(ValidationFailed):
        use(tenant.id, "task-categories", None, lunch["id"])
    # Re-pointing a task moves its count.
    use(tenant.id, "task-categories", lunch["id"], note["id"])
    assert by_name(api, tenant, "task-categories", "Note")["in_use"] == 1
    assert len(entries(api, tenant, "task-categories")) == 11


# ---- tenants ----


def test_entries_of_another_tenant_are_not_found(api, tenant, other_tenant):
    client = by_name(api, tenant, "contact-types", "Client")
    other = bearer(other_tenant.owner_token, **{"If-Match": '"1"'})
    path = f"/v1/settings/contact-types/{client['id']}"
    assert api.call("GET", path, headers=other)[0] == 404
    assert api.call("PATCH", path, {"name": "Pwned"}, headers=other)[0] == 404
    assert api.call("DELETE", path, headers=other)[0] == 404
    other_ids = [e["id"] for e in entries(api, other_tenant, "contact-types")]
    assert client["id"] not in other_ids
    status, _, _ = api.call(
        "PUT", "/v1/settings/contact-types/order", {"ids": [client["id"]] + other_ids[1:]}, headers=other
    )
    assert status == 422
    assert by_name(api, tenant, "contact-types", "Client")["version"] == 1


def test_unknown_lists_are_404(api, tenant):
    assert api.call("GET", "/v1/settings/colours", headers=bearer(tenant.owner_token))[0] == 404
