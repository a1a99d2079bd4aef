"""Tenants, users, authentication and tokens through the real API (TEN-1..4)."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.bootstrap import container
from tests.conftest import OWNER_PASSWORD, bearer, sent_emails


def test_login_returns_a_working_token(api, tenant):
    status, body, _ = api.call("POST", "/v1/auth/login", {"email": "OWNER@acme.example", "password": OWNER_PASSWORD})
    assert status == 200
    assert body["user"]["email"] == "owner@acme.example" and body["user"]["role"] == "owner"
    assert "password_hash" not in body["user"]
    status, me, _ = api.call("GET", "/v1/me", headers=bearer(body["token"]))
    assert status == 200
    assert me["user"]["id"] == tenant.owner_id and me["role"] == "owner"
    assert me["tenant"] == {"id": tenant.id, "name": "Acme", "time_zone": "UTC", "phone_region": "DE"}


def test_wrong_password_and_unknown_account_look_the_same(api, tenant):
    wrong = api.call("POST", "/v1/auth/login", {"email": "owner@acme.example", "password": "nope-nope-nope"})
    unknown = api.call("POST", "/v1/auth/login", {"email": "ghost@acme.example", "password": "nope-nope-nope"})
    assert wrong[0] == unknown[0] == 401
    assert wrong[1]["detail"] == unknown[1]["detail"]


@pytest.mark.parametrize("email", ["owner@acme.example", "ghost@acme.example"])
def test_repeated_failures_are_throttled_without_revealing_the_account(api, tenant, email):
    for _ in range(5):
        assert api.call("POST", "/v1/auth/login", {"email": email, "password": "wrong-password"})[0] == 401
    status, body, headers = api.call("POST", "/v1/auth/login", {"email": email, "password": OWNER_PASSWORD})
    assert status == 429, "even the right password waits out the window"
    assert int(headers["retry-after"]) > 0
    assert body["detail"] == "Too many failed logins; try again later."


def test_requests_without_a_valid_credential_are_401(api, tenant):
    assert api.call("GET", "/v1/me")[0] == 401
    assert api.call("GET", "/v1/me", headers={"Authorization": "Basic abc"})[0] == 401
    forged = tenant.owner_token[:-4] + "AAAA"
    assert api.call("GET", "/v1/me", headers=bearer(forged))[0] == 401
    assert api.call("GET", "/v1/me", headers=bearer("crm_session.a.b.c.d"))[0] == 401


def test_logout_revokes_only_the_calling_token(api, tenant):
    second = tenant.login(tenant.owner_email, OWNER_PASSWORD)
    assert api.call("POST", "/v1/auth/logout", headers=bearer(second))[0] == 204
    assert api.call("GET", "/v1/me", headers=bearer(second))[0] == 401
    assert api.call("GET", "/v1/me", headers=bearer(tenant.owner_token))[0] == 200


def test_invited_user_sets_a_password_once(api, tenant, run_jobs):
    status, created, _ = api.call(
        "POST", "/v1/users", {"email": "inv@acme.example", "name": "Inv"}, headers=bearer(tenant.owner_token)
    )
    assert status == 201 and created["status"] == "invited"
    invitation = created["invitation_token"]
    # Not a bearer credential, and no login before accepting.
    assert api.call("GET", "/v1/me", headers=bearer(invitation))[0] == 401
    assert api.call("POST", "/v1/auth/login", {"email": "inv@acme.example", "password": "whatever-pw"})[0] == 401
    run_jobs()
    mail = [m for m in sent_emails() if m.destinations["ToAddresses"] == ["inv@acme.example"]]
    assert len(mail) == 1 and invitation in mail[0].body, "the invitation travels by e-mail"
    status, session, _ = api.call(
        "POST", "/v1/auth/accept-invitation", {"token": invitation, "password": "brand-new-password"}
    )
    assert status == 200 and session["user"]["status"] == "active"
    assert api.call("GET", "/v1/me", headers=bearer(session["token"]))[0] == 200
    assert tenant.login("inv@acme.example", "brand-new-password")
    again = api.call("POST", "/v1/auth/accept-invitation", {"token": invitation, "password": "another-password"})
    assert again[0] == 401


def test_invitation_and_notification_secrets_are_not_stored_in_clear(api, tenant):
    _, created, _ = api.call(
        "POST", "/v1/users", {"email": "inv@acme.example", "name": "Inv"}, headers=bearer(tenant.owner_token)
    )
    secret = created["invitation_token"].rsplit(".", 1)[1]
    from chalicelib.storage.dynamo.aws import client

    dump = str(client("dynamodb").scan(TableName="crm-test")["Items"])
    assert secret not in dump and OWNER_PASSWORD not in dump
    assert tenant.owner_token.rsplit(".", 1)[1] not in dump


def test_users_are_managed_by_owners_and_admins_only(api, tenant):
    _, user_token = tenant.add_user("u@acme.example")
    status, body, _ = api.call(
        "POST",
        "/v1/users",
        {"email": "x@acme.example", "name": "X", "password": "pw-123456789"},
        headers=bearer(user_token),
    )
    assert status == 403
    admin_id, admin_token = tenant.add_user("a@acme.example", role="admin")
    status, _, _ = api.call(
        "POST",
        "/v1/users",
        {"email": "o2@acme.example", "name": "O", "role": "owner", "password": "pw-123456789"},
        headers=bearer(admin_token),
    )
    assert status == 403, "only an owner makes owners"
    assert (
        api.call(
            "POST",
            "/v1/users",
            {"email": "u2@acme.example", "name": "U2", "password": "pw-123456789"},
            headers=bearer(admin_token),
        )[0]
        == 201
    )
    # Everyone reads the directory.
    status, page, _ = api.call("GET", "/v1/users", headers=bearer(user_token))
    assert status == 200 and len(page["items"]) == 4 and page["next_cursor"] is None


def test_emails_are_unique_per_tenant_ignoring_case(api, tenant, other_tenant):
    tenant.add_user("same@acme.example")
    status, body, _ = api.call(
        "POST",
        "/v1/users",
        {"email": "SAME@Acme.Example", "name": "Dup", "password": "pw-123456789"},
        headers=bearer(tenant.owner_token),
    )
    assert status == 409
    # Another tenant may have the same address.
    other_tenant.add_user("same@acme.example", password="other-password-1")


def test_login_with_an_address_in_two_tenants(api, tenant, other_tenant):
    tenant.add_user("both@example.org", password="password-in-acme")
    other_tenant.add_user("both@example.org", password="password-in-globex")
    status, body, _ = api.call(
        "POST", "/v1/auth/login", {"email": "both@example.org", "password": "password-in-globex"}
    )
    assert status == 200
    status, me, _ = api.call("GET", "/v1/me", headers=bearer(body["token"]))
    assert me["tenant"]["id"] == other_tenant.id


def test_nobody_raises_their_own_role(api, tenant):
    user_id, user_token = tenant.add_user("u@acme.example")
    _, me, headers = api.call("GET", f"/v1/users/{user_id}", headers=bearer(user_token))
    status, _, _ = api.call(
        "PATCH", f"/v1/users/{user_id}", {"role": "admin"}, headers=bearer(user_token, **{"If-Match": headers["etag"]})
    )
    assert status == 403
    admin_id, admin_token = tenant.add_user("a@acme.example", role="admin")
    status, _, _ = api.call(
        "PATCH", f"/v1/users/{admin_id}", {"role": "owner"}, headers=bearer(admin_token, **{"If-Match": '"1"'})
    )
    assert status == 403
    # Lowering your own role is fine.
    status, body, _ = api.call(
        "PATCH", f"/v1/users/{admin_id}", {"role": "user"}, headers=bearer(admin_token, **{"If-Match": '"1"'})
    )
    assert status == 200 and body["role"] == "user" and body["version"] == 2


def test_last_owner_can_be_neither_demoted_nor_deactivated(api, tenant):
    owner = tenant.owner_id
    status, body, _ = api.call(
        "PATCH", f"/v1/users/{owner}", {"role": "admin"}, headers=bearer(tenant.owner_token, **{"If-Match": '"1"'})
    )
    assert status == 409 and "owner" in body["detail"]
    assert api.call("DELETE", f"/v1/users/{owner}", headers=bearer(tenant.owner_token))[0] == 409
    second, _ = tenant.add_user("o2@acme.example", role="owner")
    status, body, _ = api.call(
        "PATCH", f"/v1/users/{owner}", {"role": "admin"}, headers=bearer(tenant.owner_token, **{"If-Match": '"1"'})
    )
    assert status == 200 and body["role"] == "admin"
    # Now the second owner is the last one.
    _, second_token = second, tenant.login("o2@acme.example", "user-password-1")
    assert api.call("DELETE", f"/v1/users/{second}", headers=bearer(second_token))[0] == 409


def test_deactivated_users_tokens_stop_at_once(api, tenant):
    user_id, user_token = tenant.add_user("u@acme.example")
    status, api_token, _ = api.call("POST", "/v1/tokens", {"name": "script"}, headers=bearer(user_token))
    assert status == 201
    status, body, _ = api.call("DELETE", f"/v1/users/{user_id}", headers=bearer(tenant.owner_token))
    assert status == 200 and body["status"] == "deactivated"
    assert api.call("GET", "/v1/me", headers=bearer(user_token))[0] == 401
    assert api.call("GET", "/v1/me", headers=bearer(api_token["token"]))[0] == 401
    assert api.call("POST", "/v1/auth/login", {"email": "u@acme.example", "password": "user-password-1"})[0] == 401
    # Reactivated, the same tokens work again (they were never deleted).
    api.call(
        "PATCH", f"/v1/users/{user_id}", {"status": "active"}, headers=bearer(tenant.owner_token, **{"If-Match": '"2"'})
    )
    assert api.call("GET", "/v1/me", headers=bearer(user_token))[0] == 200


def test_updates_name_their_version(api, tenant):
    user_id, _ = tenant.add_user("u@acme.example")
    owner = bearer(tenant.owner_token)
    assert api.call("PATCH", f"/v1/users/{user_id}", {"name": "New"}, headers=owner)[0] == 428
    assert api.call("PATCH", f"/v1/users/{user_id}", {"name": "New"}, headers={**owner, "If-Match": '"1"'})[0] == 200
    status, body, _ = api.call("PATCH", f"/v1/users/{user_id}", {"name": "Stale"}, headers={**owner, "If-Match": '"1"'})
    assert status == 412
    assert api.call("GET", f"/v1/users/{user_id}", headers=owner)[1]["name"] == "New"


def test_changing_the_email_moves_the_login_and_frees_the_old_address(api, tenant):
    user_id, user_token = tenant.add_user("old@acme.example")
    status, body, _ = api.call(
        "PATCH",
        f"/v1/users/{user_id}",
        {"email": "new@acme.example"},
        headers=bearer(user_token, **{"If-Match": '"1"'}),
    )
    assert status == 200
    assert tenant.login("new@acme.example", "user-password-1")
    assert api.call("POST", "/v1/auth/login", {"email": "old@acme.example", "password": "user-password-1"})[0] == 401
    tenant.add_user("old@acme.example", password="someone-else-1")


def test_own_password_change_needs_the_current_one(api, tenant):
    user_id, user_token = tenant.add_user("u@acme.example")
    headers = bearer(user_token, **{"If-Match": '"1"'})
    status, body, _ = api.call("PATCH", f"/v1/users/{user_id}", {"password": "a-new-password"}, headers=headers)
    assert status == 422 and body["errors"][0]["field"] == "current_password"
    status, _, _ = api.call(
        "PATCH",
        f"/v1/users/{user_id}",
        {"password": "a-new-password", "current_password": "user-password-1"},
        headers=headers,
    )
    assert status == 200
    assert tenant.login("u@acme.example", "a-new-password")


def test_api_tokens_are_shown_once_work_and_can_be_revoked(api, tenant):
    owner = bearer(tenant.owner_token)
    status, created, _ = api.call("POST", "/v1/tokens", {"name": "CI"}, headers=owner)
    assert status == 201 and created["token"].startswith("crm_api.")
    status, listing, _ = api.call("GET", "/v1/tokens", headers=owner)
    assert [t["name"] for t in listing["items"]] == ["CI"]
    assert "token" not in listing["items"][0] and listing["items"][0]["last4"] == created["token"][-4:]
    assert api.call("GET", "/v1/me", headers=bearer(created["token"]))[0] == 200
    assert api.call("DELETE", f"/v1/tokens/{created['id']}", headers=owner)[0] == 204
    assert api.call("GET", "/v1/me", headers=bearer(created["token"]))[0] == 401
    assert api.call("DELETE", f"/v1/tokens/{created['id']}", headers=owner)[0] == 404


def test_api_token_expiry(api, tenant):
    owner = bearer(tenant.owner_token)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert api.call("POST", "/v1/tokens", {"name": "old", "expires_at": past}, headers=owner)[0] == 422
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    _, created, _ = api.call("POST", "/v1/tokens", {"name": "short", "expires_at": soon}, headers=owner)
    assert api.call("GET", "/v1/me", headers=bearer(created["token"]))[0] == 200
    container().auth._clock = lambda: datetime.now(UTC) + timedelta(hours=2)
    assert api.call("GET", "/v1/me", headers=bearer(created["token"]))[0] == 401


def test_groups_and_membership(api, tenant):
    owner = bearer(tenant.owner_token)
    u1, t1 = tenant.add_user("u1@acme.example")
    u2, _ = tenant.add_user("u2@acme.example")
    status, group, _ = api.call("POST", "/v1/groups", {"name": "Sales", "member_ids": [u1, u2]}, headers=owner)
    assert status == 201
    assert api.call("POST", "/v1/groups", {"name": "sales"}, headers=owner)[0] == 409
    assert api.call("POST", "/v1/groups", {"name": "X", "member_ids": ["nobody"]}, headers=owner)[0] == 422
    assert api.call("POST", "/v1/groups", {"name": "Mine"}, headers=bearer(t1))[0] == 403
    _, me, _ = api.call("GET", "/v1/me", headers=bearer(t1))
    assert me["groups"] == [{"id": group["id"], "name": "Sales"}]
    status, changed, _ = api.call(
        "PATCH", f"/v1/groups/{group['id']}", {"member_ids": [u2]}, headers={**owner, "If-Match": '"1"'}
    )
    assert status == 200 and changed["member_ids"] == [u2]
    assert api.call("GET", "/v1/me", headers=bearer(t1))[1]["groups"] == []
    assert api.call("GET", f"/v1/users/{u2}", headers=owner)[1]["group_ids"] == [group["id"]]
    assert api.call("DELETE", f"/v1/groups/{group['id']}", headers=owner)[0] == 204
    assert api.call("GET", f"/v1/users/{u2}", headers=owner)[1]["group_ids"] == []
    assert api.call("GET", f"/v1/groups/{group['id']}", headers=owner)[0] == 404


def test_notifications_inbox_and_email(api, tenant, run_jobs):
    user_id, user_token = tenant.add_user("u@acme.example")
    status, inbox, _ = api.call("GET", "/v1/notifications", headers=bearer(user_token))
    assert status == 200 and [n["kind"] for n in inbox["items"]] == ["user.added"]
    assert inbox["items"][0]["read_at"] is None
    assert run_jobs()["failures"] == []
    mails = [m for m in sent_emails() if m.destinations["ToAddresses"] == ["u@acme.example"]]
    assert len(mails) == 1 and mails[0].subject == "You were added to the CRM"
    assert run_jobs()["handled"] == 0
    notification = inbox["items"][0]["id"]
    status, read, _ = api.call("POST", f"/v1/notifications/{notification}/read", headers=bearer(user_token))
    assert status == 200 and read["read_at"] is not None
    assert api.call("GET", "/v1/notifications?unread=true", headers=bearer(user_token))[1]["items"] == []
    # Nobody else reads or marks it.
    assert api.call("POST", f"/v1/notifications/{notification}/read", headers=bearer(tenant.owner_token))[0] == 404


def test_notification_email_job_is_idempotent(api, tenant, run_jobs):
    from chalicelib.domain.notifications.service import SendNotificationEmails

    user_id, user_token = tenant.add_user("u@acme.example")
    run_jobs()
    before = len(sent_emails())
    notification = api.call("GET", "/v1/notifications", headers=bearer(user_token))[1]["items"][0]
    container().notifier.send_emails(
        SendNotificationEmails(tenant_id=tenant.id, notifications=[(user_id, notification["id"])])
    )
    assert len(sent_emails()) == before, "a redelivered job sends nothing twice"


def test_identity_routes_are_in_openapi_with_bearer_security(api):
    _, spec, _ = api.call("GET", "/openapi.json")
    assert spec["paths"]["/v1/me"]["get"]["security"] == [{"bearer": []}]
    assert spec["paths"]["/v1/auth/login"]["post"]["security"] == []
    login_body = spec["paths"]["/v1/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert login_body["$ref"].endswith("LoginRequest")
    users = spec["paths"]["/v1/users"]["get"]
    assert {p["name"] for p in users["parameters"]} >= {"limit", "cursor"}
    assert {p["name"] for p in spec["paths"]["/v1/users/{user_id}"]["patch"]["parameters"]} >= {"If-Match"}
    assert "password_hash" not in str(spec["components"]["schemas"].get("UserView"))
