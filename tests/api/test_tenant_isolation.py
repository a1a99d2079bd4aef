"""TEN-1: no id, cursor or token of one tenant reaches anything of another."""

from tests.conftest import bearer


def test_ids_of_another_tenant_are_not_found(api, tenant, other_tenant):
    a_user, _ = tenant.add_user("u@acme.example")
    _, a_group, _ = api.call(
        "POST", "/v1/groups", {"name": "A-team", "member_ids": [a_user]}, headers=bearer(tenant.owner_token)
    )
    b = bearer(other_tenant.owner_token)
    assert api.call("GET", f"/v1/users/{a_user}", headers=b)[0] == 404
    assert api.call("PATCH", f"/v1/users/{a_user}", {"name": "pwned"}, headers={**b, "If-Match": '"1"'})[0] == 404
    assert api.call("DELETE", f"/v1/users/{a_user}", headers=b)[0] == 404
    assert api.call("GET", f"/v1/groups/{a_group['id']}", headers=b)[0] == 404
    assert api.call("DELETE", f"/v1/groups/{a_group['id']}", headers=b)[0] == 404
    # B cannot put A's user into its own group, nor into its module access list.
    assert api.call("POST", "/v1/groups", {"name": "B", "member_ids": [a_user]}, headers=b)[0] == 422
    body = {"enabled": True, "restricted": True, "user_ids": [a_user], "group_ids": []}
    assert api.call("PUT", "/v1/settings/crm-access", body, headers=b)[0] == 422
    # Lists show only one's own.
    listed = {u["email"] for u in api.call("GET", "/v1/users", headers=b)[1]["items"]}
    assert listed == {"owner@globex.example"}
    assert api.call("GET", "/v1/groups", headers=b)[1]["items"] == []


def test_cursor_of_another_tenant_is_refused(api, tenant, other_tenant):
    for n in range(3):
        tenant.add_user(f"u{n}@acme.example")
    _, page, _ = api.call("GET", "/v1/users?limit=2", headers=bearer(tenant.owner_token))
    assert page["next_cursor"]
    status, body, _ = api.call(
        "GET", f"/v1/users?limit=2&cursor={page['next_cursor']}", headers=bearer(other_tenant.owner_token)
    )
    assert status == 400 and body["detail"] == "The cursor is not valid for this query."
    # Same tenant, another list: refused too.
    assert api.call("GET", f"/v1/groups?cursor={page['next_cursor']}", headers=bearer(tenant.owner_token))[0] == 400
    # And within its own scope it works and the pages do not overlap.
    _, rest, _ = api.call("GET", f"/v1/users?limit=2&cursor={page['next_cursor']}", headers=bearer(tenant.owner_token))
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    assert not {u["id"] for u in page["items"]} & {u["id"] for u in rest["items"]}


def test_a_token_rewritten_to_another_tenant_is_refused(api, tenant, other_tenant):
    kind, _, user, token_id, secret = tenant.owner_token.split(".")
    rewritten = ".".join([kind, other_tenant.id, user, token_id, secret])
    assert api.call("GET", "/v1/me", headers=bearer(rewritten))[0] == 401
    # Another tenant's user id with a valid secret of ours: still nothing.
    _, b_user, b_token_id, _ = other_tenant.owner_token.split(".")[1:]
    mixed = ".".join([kind, other_tenant.id, b_user, b_token_id, secret])
    assert api.call("GET", "/v1/me", headers=bearer(mixed))[0] == 401


def test_notifications_stay_with_their_tenant(api, tenant, other_tenant):
    a_user, a_token = tenant.add_user("u@acme.example")
    note = api.call("GET", "/v1/notifications", headers=bearer(a_token))[1]["items"][0]["id"]
    assert api.call("POST", f"/v1/notifications/{note}/read", headers=bearer(other_tenant.owner_token))[0] == 404
    assert api.call("GET", "/v1/notifications", headers=bearer(other_tenant.owner_token))[1]["items"] == []


def test_every_stored_key_starts_with_its_tenant(api, tenant, other_tenant):
    tenant.add_user("u@acme.example")
    from chalicelib.storage.dynamo.aws import client

    items = client("dynamodb").scan(TableName="crm-test")["Items"]
    tenant_keys = [i["pk"]["S"] for i in items if not i["pk"]["S"].startswith("SYS#")]
    assert tenant_keys and all(
        k.startswith(("T#" + tenant.id + "#", "T#" + other_tenant.id + "#")) for k in tenant_keys
    )
