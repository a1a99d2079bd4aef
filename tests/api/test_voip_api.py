"""Telephony through the API (VOIP-1..6, 9): the account, numbers, presence,
tokens and the signed webhooks, over moto with Twilio's REST API answered
by the fake transport (storage/memory/twilio_api.py). Nothing leaves the machine."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

from tests.conftest import Api, Tenant, bearer
from tests.voip_helpers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OTHER_SID,
    OTHER_TOKEN,
    PUBLIC_URL,
    call_sid,
    post_form,
    sign,
)


def connect(tenant: Tenant, sid: str = ACCOUNT_SID, token: str = AUTH_TOKEN) -> dict[str, Any]:
    status, body, _ = tenant.api.call(
        "PUT", "/v1/voip/account", {"account_sid": sid, "auth_token": token}, headers=bearer(tenant.owner_token)
    )
    assert status == 200, body
    status, tested, _ = tenant.api.call("POST", "/v1/voip/account/test", headers=bearer(tenant.owner_token))
    assert status == 200 and tested["ok"], tested
    return tenant.api.call("GET", "/v1/voip/account", headers=bearer(tenant.owner_token))[1]


def hook_path(account: dict[str, Any], name: str) -> str:
    return account["webhook_base_url"].removeprefix(PUBLIC_URL) + "/" + name


def add_number(tenant: Tenant, phone: str, operators: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    status, body, _ = tenant.api.call(
        "POST",
        "/v1/voip/numbers",
        {"phone_number": phone, "mode": "buy", "operators": operators, **settings},
        headers=bearer(tenant.owner_token),
    )
    assert status == 201, body
    return body


def online(tenant: Tenant, token: str) -> None:
    status, body, _ = tenant.api.call("PUT", "/v1/voip/presence", {"status": "online"}, headers=bearer(token))
    assert status == 200, body


def twiml(body: Any) -> ElementTree.Element:
    return ElementTree.fromstring(body if isinstance(body, str) else body.decode())


# ---- VOIP-1: the account ----


def test_the_auth_token_goes_to_secrets_manager_and_is_never_answered(api: Api, tenant: Tenant, twilio: Any) -> None:
    status, body, headers = api.call(
        "PUT",
        "/v1/voip/account",
        {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
        headers=bearer(tenant.owner_token),
    )
    assert status == 200, body
    assert AUTH_TOKEN not in json.dumps(body)
    assert body["auth_token_set"] is True and body["account_sid"] == ACCOUNT_SID
    hook = body["webhook_base_url"].removeprefix(f"{PUBLIC_URL}/twilio/")
    assert hook.startswith(tenant.id + ".") and len(hook) > len(tenant.id) + 30
    # In the table: a reference to the secret, never the token.
    from chalicelib.storage.dynamo.aws import client
    from chalicelib.storage.dynamo.keys import voip_account
    from chalicelib.storage.dynamo.table import Table

    item = Table().get(voip_account(tenant.id), consistent=True)
    assert item is not None and AUTH_TOKEN not in json.dumps(item, default=str)
    secret = client("secretsmanager").get_secret_value(SecretId=item["secret_ref"])
    assert json.loads(secret["SecretString"])["auth_token"] == AUTH_TOKEN
    assert secret["Name"] == f"crm/twilio/{tenant.id}"


def test_the_account_test_checks_the_credentials_against_twilio(api: Api, tenant: Tenant, twilio: Any) -> None:
    api.call(
        "PUT",
        "/v1/voip/account",
        {"account_sid": ACCOUNT_SID, "auth_token": "0" * 32},
        headers=bearer(tenant.owner_token),
    )
    status, refused, _ = api.call("POST", "/v1/voip/account/test", headers=bearer(tenant.owner_token))
    assert status == 200 and refused["ok"] is False and "refused" in refused["detail"]
    account = connect(tenant)
    assert account["twiml_app_sid"].startswith("AP") and account["verified_at"]
    app = twilio.applications[account["twiml_app_sid"]]
    assert app["voice_url"] == account["webhook_base_url"] + "/outgoing"
    assert ("GET", f"/2010-04-01/Accounts/{ACCOUNT_SID}.json") in twilio.requests


def test_only_admins_manage_the_account_and_numbers(api: Api, tenant: Tenant, twilio: Any) -> None:
    _, user_token = tenant.add_user("anna@acme.example")
    assert api.call("GET", "/v1/voip/account", headers=bearer(user_token))[0] == 403
    status, _, _ = api.call(
        "PUT", "/v1/voip/account", {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}, headers=bearer(user_token)
    )
    assert status == 403
    connect(tenant)
    status, _, _ = api.call(
        "POST", "/v1/voip/numbers", {"phone_number": "+4930555010", "mode": "buy"}, headers=bearer(user_token)
    )
    assert status == 403


# ---- VOIP-2, 3: numbers ----


def test_buy_link_edit_and_release_numbers(api: Api, tenant: Tenant, twilio: Any) -> None:
    account = connect(tenant)
    anna, _ = tenant.add_user("anna@acme.example")
    status, offer, _ = api.call(
        "GET", "/v1/voip/available-numbers?country=DE&type=local", headers=bearer(tenant.owner_token)
    )
    assert status == 200 and offer["items"] and offer["items"][0]["phone_number"].startswith("+4930")
    bought = add_number(tenant, offer["items"][0]["phone_number"], [{"user_id": anna}], alias="Sales")
    at_twilio = twilio.number(bought["phone_number"])
    assert at_twilio["voice_url"] == account["webhook_base_url"] + "/voice"
    assert at_twilio["status_callback"] == account["webhook_base_url"] + "/status"
    assert bought["operators"] == [{"user_id": anna, "outgoing": True, "recording": True}]

    twilio.own(ACCOUNT_SID, "+4940555777")
    status, linked, _ = api.call(
        "POST",
        "/v1/voip/numbers",
        {"phone_number": "+4940555777", "mode": "link"},
        headers=bearer(tenant.owner_token),
    )
    assert status == 201 and linked["source"] == "linked"
    assert twilio.number("+4940555777")["voice_url"].endswith("/voice")
    status, again, _ = api.call(
        "POST", "/v1/voip/numbers", {"phone_number": "+4940555777", "mode": "link"}, headers=bearer(tenant.owner_token)
    )
    assert status == 409

    status, changed, _ = api.call(
        "PATCH",
        f"/v1/voip/numbers/{bought['id']}",
        {"recording": True, "ring_timeout": 30, "operators": [{"user_id": anna, "outgoing": False}]},
        headers=bearer(tenant.owner_token, **{"If-Match": f'"{bought["version"]}"'}),
    )
    assert status == 200 and changed["recording"] and changed["ring_timeout"] == 30
    assert changed["operators"][0]["outgoing"] is False
    status, _, _ = api.call(
        "PATCH",
        f"/v1/voip/numbers/{bought['id']}",
        {"operators": [{"user_id": "nobody"}]},
        headers=bearer(tenant.owner_token, **{"If-Match": f'"{changed["version"]}"'}),
    )
    assert status == 422

    # Unlinking keeps the number in the Twilio account, its callbacks cleared; releasing gives it back.
    assert api.call("DELETE", f"/v1/voip/numbers/{linked['id']}", headers=bearer(tenant.owner_token))[0] == 204
    assert twilio.number("+4940555777")["voice_url"] == ""
    assert api.call("DELETE", f"/v1/voip/numbers/{bought['id']}", headers=bearer(tenant.owner_token))[0] == 204
    assert twilio.number(bought["phone_number"]) is None
    assert api.call("GET", "/v1/voip/numbers", headers=bearer(tenant.owner_token))[1]["items"] == []


def test_linking_a_number_the_account_does_not_have_is_refused(api: Api, tenant: Tenant, twilio: Any) -> None:
    connect(tenant)
    status, body, _ = api.call(
        "POST", "/v1/voip/numbers", {"phone_number": "+4940555999", "mode": "link"}, headers=bearer(tenant.owner_token)
    )
    assert status == 422 and body["errors"][0]["field"] == "phone_number"


# ---- VOIP-4: presence and tokens ----


def test_a_voice_token_for_the_calling_operator_only(api: Api, tenant: Tenant, twilio: Any) -> None:
    import jwt

    connect(tenant)
    anna, anna_token = tenant.add_user("anna@acme.example")
    _, ben_token = tenant.add_user("ben@acme.example")
    add_number(tenant, "+4930555011", [{"user_id": anna}])
    status, token, headers = api.call("GET", "/v1/voip/token", headers=bearer(anna_token))
    assert status == 200 and token["identity"] == anna and headers["cache-control"] == "no-store"
    claims = jwt.decode(token["token"], options={"verify_signature": False})
    assert claims["grants"]["identity"] == anna
    assert claims["grants"]["voice"]["outgoing"]["application_sid"].startswith("AP")
    assert claims["grants"]["voice"]["incoming"]["allow"] is True
    assert claims["iss"].startswith("SK") and claims["sub"] == ACCOUNT_SID
    # Not an operator of any number: no token.
    assert api.call("GET", "/v1/voip/token", headers=bearer(ben_token))[0] == 403


def test_presence_is_the_callers_own(api: Api, tenant: Tenant, twilio: Any) -> None:
    anna, anna_token = tenant.add_user("anna@acme.example")
    assert api.call("GET", "/v1/voip/presence", headers=bearer(anna_token))[1]["status"] == "offline"
    status, body, _ = api.call("PUT", "/v1/voip/presence", {"status": "paused"}, headers=bearer(anna_token))
    assert status == 200 and body == {**body, "user_id": anna, "status": "paused"}
    assert api.call("PUT", "/v1/voip/presence", {"status": "away"}, headers=bearer(anna_token))[0] == 422
    assert api.call("GET", "/v1/voip/presence", headers=bearer(tenant.owner_token))[1]["status"] == "offline"


# ---- VOIP-5, 9: the incoming webhook ----


def _setup_incoming(api: Api, tenant: Tenant) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    account = connect(tenant)
    anna, anna_token = tenant.add_user("anna@acme.example")
    ben, ben_token = tenant.add_user("ben@acme.example")
    number = add_number(
        tenant, "+4930555012", [{"user_id": anna}, {"user_id": ben}], greeting="Welcome to Acme", recording=True
    )
    online(tenant, anna_token)
    online(tenant, ben_token)
    return account, number, anna, ben


def test_a_signed_call_rings_the_online_operators_with_the_callers_contact(
    api: Api, tenant: Tenant, twilio: Any
) -> None:
    account, number, anna, ben = _setup_incoming(api, tenant)
    # A contact Anna manages (private): only she is told who calls.
    status, contact, _ = api.call(
        "POST",
        "/v1/contacts",
        {
            "kind": "person",
            "first_name": "Clara",
            "last_name": "Caller",
            "managers": [anna],
            "details": [{"type": "phone", "value": "+49 170 5550123"}],
        },
        headers=bearer(tenant.owner_token),
    )
    assert status == 201, contact
    params = {"CallSid": call_sid(1), "From": "+491705550123", "To": number["phone_number"], "Direction": "inbound"}
    status, body, headers = post_form(api, hook_path(account, "voice"), params)
    assert status == 200 and headers["content-type"].startswith("text/xml"), body
    root = twiml(body)
    assert root.find("Say").text == "Welcome to Acme"
    dial = root.find("Dial")
    assert dial.get("timeout") == "20" and dial.get("record") == "record-from-answer-dual"
    assert dial.get("action") == account["webhook_base_url"] + "/voice?after=dial"
    clients = {c.find("Identity").text: c for c in dial.findall("Client")}
    assert set(clients) == {anna, ben}
    told = {name: {p.get("name"): p.get("value") for p in c.findall("Parameter")} for name, c in clients.items()}
    assert told[anna]["contact_id"] == contact["id"] and told[anna]["contact_name"] == "Clara Caller"
    assert "contact_id" not in told[ben] and told[ben]["caller"] == "+491705550123"
    assert clients[anna].get("statusCallback").startswith(account["webhook_base_url"] + "/status?")


def test_forged_and_foreign_signatures_are_refused(api: Api, tenant: Tenant, other_tenant: Tenant, twilio: Any) -> None:
    account, number, _, _ = _setup_incoming(api, tenant)
    connect(other_tenant, OTHER_SID, OTHER_TOKEN)
    path = hook_path(account, "voice")
    params = {"CallSid": call_sid(2), "From": "+491705550123", "To": number["phone_number"]}
    assert post_form(api, path, params, token=None)[0] == 403  # unsigned
    assert post_form(api, path, params, signature="bm90IGEgc2lnbmF0dXJl")[0] == 403  # forged
    # Signed correctly, but by another tenant's Twilio account.
    assert post_form(api, path, params, token=OTHER_TOKEN)[0] == 403
    # Signed over another URL (a replay to another path), or with the body changed after signing.
    assert post_form(api, path, params, url=PUBLIC_URL + hook_path(account, "outgoing"))[0] == 403
    signature = sign(PUBLIC_URL + path, params, AUTH_TOKEN)
    assert post_form(api, path, {**params, "From": "+15550000000"}, signature=signature)[0] == 403
    # A wrong key for the right tenant.
    wrong = path.replace(account["webhook_base_url"].rsplit(".", 1)[1], "x" * 32)
    assert post_form(api, wrong, params)[0] == 403
    # JSON is not what Twilio sends.
    status, _, _ = api.call(
        "POST", path, {"CallSid": "x"}, headers={"X-Twilio-Signature": sign(PUBLIC_URL + path, {}, AUTH_TOKEN)}
    )
    assert status == 415
    assert post_form(api, path, params)[0] == 200


def test_voicemail_when_nobody_is_online(api: Api, tenant: Tenant, twilio: Any) -> None:
    account = connect(tenant)
    anna, _ = tenant.add_user("anna@acme.example")
    number = add_number(tenant, "+4930555013", [{"user_id": anna}])
    params = {"CallSid": call_sid(3), "From": "+491705550999", "To": number["phone_number"]}
    root = twiml(post_form(api, hook_path(account, "voice"), params)[1])
    record = root.find("Record")
    assert root.find("Dial") is None and record is not None
    assert record.get("recordingStatusCallback").startswith(account["webhook_base_url"] + "/recording?")
    assert "kind=voicemail" in record.get("recordingStatusCallback")
    # Nobody answered in time: voicemail after the Dial, unless the number has none.
    params = {**params, "DialCallStatus": "no-answer"}
    path = hook_path(account, "voice")
    after = post_form(api, path + "?after=dial", params, url=PUBLIC_URL + path)
    assert after[0] == 403  # signed without the query: the query is part of what Twilio signs
    signed = sign(PUBLIC_URL + path + "?after=dial", params, AUTH_TOKEN)
    status, body, _ = post_form(api, path + "?after=dial", params, signature=signed)
    assert status == 200 and twiml(body).find("Record") is not None


def test_an_unknown_number_is_rejected(api: Api, tenant: Tenant, twilio: Any) -> None:
    account = connect(tenant)
    params = {"CallSid": call_sid(4), "From": "+491705550999", "To": "+4930999999"}
    assert twiml(post_form(api, hook_path(account, "voice"), params)[1]).find("Reject") is not None


# ---- VOIP-6: outgoing ----


def test_outgoing_dials_a_contacts_number_with_the_number_as_caller_id(api: Api, tenant: Tenant, twilio: Any) -> None:
    account = connect(tenant)
    anna, _ = tenant.add_user("anna@acme.example")
    ben, _ = tenant.add_user("ben@acme.example")
    number = add_number(tenant, "+4930555014", [{"user_id": anna}, {"user_id": ben, "outgoing": False}], recording=True)
    status, contact, _ = api.call(
        "POST",
        "/v1/contacts",
        {
            "kind": "person",
            "first_name": "Dora",
            "last_name": "Dialled",
            "managers": [anna],
            "details": [{"type": "phone", "value": "+4917055501"}, {"type": "phone", "value": "+4930555999"}],
        },
        headers=bearer(tenant.owner_token),
    )
    path = hook_path(account, "outgoing")
    params = {"CallSid": call_sid(5), "From": f"client:{anna}", "To": "+4930555999", "contact_id": contact["id"]}
    root = twiml(post_form(api, path, params)[1])
    dial = root.find("Dial")
    assert dial.get("callerId") == number["phone_number"] and dial.get("record") == "record-from-answer-dual"
    target = dial.find("Number")
    assert target.text == "+4930555999"
    assert f"op={anna}" in target.get("statusCallback") and f"contact={contact['id']}" in target.get("statusCallback")
    # Any number, without a contact.
    root = twiml(post_form(api, path, {**params, "contact_id": "", "To": "+15005550006"})[1])
    assert root.find("Dial/Number").text == "+15005550006"
    # Not one of the contact's numbers; an operator without outgoing; a contact Ben may not see.
    assert twiml(post_form(api, path, {**params, "To": "+4930555888"})[1]).find("Dial") is None
    assert twiml(post_form(api, path, {**params, "From": f"client:{ben}"})[1]).find("Dial") is None
    assert twiml(post_form(api, path, {**params, "From": "client:stranger"})[1]).find("Dial") is None


# ---- tenant isolation ----


def test_another_tenant_sees_nothing_of_the_telephony(
    api: Api, tenant: Tenant, other_tenant: Tenant, twilio: Any
) -> None:
    connect(tenant)
    number = add_number(tenant, "+4930555015", [])
    assert api.call("GET", f"/v1/voip/numbers/{number['id']}", headers=bearer(other_tenant.owner_token))[0] == 404
    assert api.call("GET", "/v1/voip/account", headers=bearer(other_tenant.owner_token))[0] == 404
    assert api.call("GET", "/v1/voip/numbers", headers=bearer(other_tenant.owner_token))[1]["items"] == []
