"""TEN-3: the owner switches the CRM module off or limits it to users/groups."""

import pytest
from chalice import Blueprint, Chalice
from chalice.test import Client

from chalicelib.handlers.http.middleware import request_context
from chalicelib.handlers.http.routing import route
from tests.conftest import Api, bearer


@pytest.fixture
def crm_api(aws):
    """A CRM-module endpoint (module="crm", the default) on an app of its own."""
    bp = Blueprint("crm_probe")

    @route(bp, "/v1/probe", "GET", summary="a CRM endpoint", tag="t")
    def probe(call):
        return {"user_id": call.caller.user_id}

    app = Chalice(app_name="probe")
    app.register_middleware(request_context, "http")
    app.register_blueprint(bp)
    with Client(app) as client:
        yield Api(client)


def put_access(api, tenant, **settings):
    body = {"enabled": True, "restricted": False, "user_ids": [], "group_ids": [], **settings}
    return api.call("PUT", "/v1/settings/crm-access", body, headers=bearer(tenant.owner_token))


def test_switched_off_module_answers_403_but_the_owner_can_switch_it_back(api, crm_api, tenant):
    _, user_token = tenant.add_user("u@acme.example")
    assert crm_api.call("GET", "/v1/probe", headers=bearer(user_token))[0] == 200
    status, body, _ = put_access(api, tenant, enabled=False)
    assert status == 200 and body["enabled"] is False
    for token in (user_token, tenant.owner_token):
        status, problem, headers = crm_api.call("GET", "/v1/probe", headers=bearer(token))
        assert status == 403 and headers["content-type"] == "application/problem+json"
        assert "switched off" in problem["detail"]
    # Identity stays reachable, and the owner switches the module back on.
    assert api.call("GET", "/v1/me", headers=bearer(user_token))[0] == 200
    assert put_access(api, tenant, enabled=True)[0] == 200
    assert crm_api.call("GET", "/v1/probe", headers=bearer(user_token))[0] == 200


def test_limited_module_admits_listed_users_groups_and_the_owner(api, crm_api, tenant):
    listed, listed_token = tenant.add_user("listed@acme.example")
    member, member_token = tenant.add_user("member@acme.example")
    _, outsider_token = tenant.add_user("outsider@acme.example", role="admin")
    _, group, _ = api.call(
        "POST", "/v1/groups", {"name": "CRM", "member_ids": [member]}, headers=bearer(tenant.owner_token)
    )
    status, body, _ = put_access(api, tenant, restricted=True, user_ids=[listed], group_ids=[group["id"]])
    assert status == 200 and body["user_ids"] == [listed]
    assert crm_api.call("GET", "/v1/probe", headers=bearer(listed_token))[0] == 200
    assert crm_api.call("GET", "/v1/probe", headers=bearer(member_token))[0] == 200
    assert crm_api.call("GET", "/v1/probe", headers=bearer(tenant.owner_token))[0] == 200
    status, problem, _ = crm_api.call("GET", "/v1/probe", headers=bearer(outsider_token))
    assert status == 403 and "listed" in problem["detail"]


def test_only_the_owner_changes_module_access(api, tenant):
    _, admin_token = tenant.add_user("a@acme.example", role="admin")
    body = {"enabled": False, "restricted": False, "user_ids": [], "group_ids": []}
    assert api.call("PUT", "/v1/settings/crm-access", body, headers=bearer(admin_token))[0] == 403
    assert api.call("GET", "/v1/settings/crm-access", headers=bearer(admin_token))[0] == 200
    _, user_token = tenant.add_user("u@acme.example")
    assert api.call("GET", "/v1/settings/crm-access", headers=bearer(user_token))[0] == 403


def test_unknown_users_or_groups_are_refused(api, tenant):
    status, body, _ = put_access(api, tenant, restricted=True, user_ids=["nobody"], group_ids=["nogroup"])
    assert status == 422
    assert {e["field"] for e in body["errors"]} == {"user_ids", "group_ids"}


def test_stale_version_is_refused(api, tenant):
    _, current, headers = api.call("GET", "/v1/settings/crm-access", headers=bearer(tenant.owner_token))
    body = {"enabled": True, "restricted": True, "user_ids": [], "group_ids": []}
    ok = api.call(
        "PUT", "/v1/settings/crm-access", body, headers=bearer(tenant.owner_token, **{"If-Match": headers["etag"]})
    )
    assert ok[0] == 200
    stale = api.call(
        "PUT", "/v1/settings/crm-access", body, headers=bearer(tenant.owner_token, **{"If-Match": headers["etag"]})
    )
    assert stale[0] == 412
