"""The calls queue (VOIP-7, 8): Twilio's signed callbacks go through the
webhooks to their own queue and its consumer; duplicated and reordered
deliveries change nothing twice; unknown callers become private persons;
recordings are copied to S3 and played through presigned URLs; the call
log shows each operator their own calls."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tests.api.test_voip_api import add_number, connect, hook_path, online
from tests.conftest import Api, Tenant, bearer
from tests.voip_helpers import AUTH_TOKEN, PUBLIC_URL, call_sid, post_form, recording_sid, sign


def take_messages() -> list[dict[str, Any]]:
    """Everything on the calls queue, taken off it (SQS records for the consumer)."""
    from chalicelib.storage.dynamo.aws import client
    from chalicelib.storage.queues import queue_url

    sqs, url, taken = client("sqs"), queue_url("calls"), []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return taken
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            taken.append(
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:crm-calls",
                    "awsRegion": "eu-central-1",
                }
            )


def deliver(records: list[dict[str, Any]]) -> list[Any]:
    """One message per invocation, in the order given (as concurrent Lambdas
    might), then whatever those queued (the "settle" messages), until none is left."""
    from chalicelib.handlers.background.calls import process_call_batch

    failures = []
    while records:
        for record in records:
            failures += process_call_batch({"Records": [record]})["batchItemFailures"]
        records = take_messages()
    return failures


@pytest.fixture(autouse=True)
def settle_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settle message is queued without its 30 s delay (moto would hold it back)."""
    from chalicelib.domain.voip import calls

    monkeypatch.setattr(calls, "SETTLE_SECONDS", 0)


def signed(api: Api, account: dict[str, Any], hook: str, params: dict[str, str], **query: str) -> None:
    path = hook_path(account, hook)
    suffix = "?" + "&".join(f"{k}={v}" for k, v in sorted(query.items())) if query else ""
    signature = sign(PUBLIC_URL + path + suffix, params, AUTH_TOKEN)
    status, body, _ = post_form(api, path + suffix, params, signature=signature)
    assert status == 200, body


@pytest.fixture
def scene(api: Api, tenant: Tenant, twilio: Any) -> dict[str, Any]:
    account = connect(tenant)
    anna, anna_token = tenant.add_user("anna@acme.example")
    ben, ben_token = tenant.add_user("ben@acme.example")
    carl, carl_token = tenant.add_user("carl@acme.example")
    number = add_number(tenant, "+4930555020", [{"user_id": anna}, {"user_id": ben}], recording=True)
    online(tenant, anna_token)
    online(tenant, ben_token)
    return {
        "account": account,
        "number": number,
        "anna": (anna, anna_token),
        "ben": (ben, ben_token),
        "carl": (carl, carl_token),
    }


def answered_call_callbacks(api: Api, scene: dict[str, Any], n: int, caller: str) -> None:
    """What Twilio sends for an incoming call Anna answers after Ben's browser rang: 3 min 12 s."""
    account, number = scene["account"], scene["number"]
    anna, ben = scene["anna"][0], scene["ben"][0]
    parent, anna_leg, ben_leg = call_sid(n), call_sid(n + 1), call_sid(n + 2)
    signed(api, account, "voice", {"CallSid": parent, "From": caller, "To": number["phone_number"]})
    leg = {"ParentCallSid": parent, "From": caller}
    query = {"leg": "client", "number": number["id"]}
    signed(
        api,
        account,
        "status",
        {**leg, "CallSid": anna_leg, "To": f"client:{anna}", "CallStatus": "in-progress"},
        **query,
    )
    signed(
        api, account, "status", {**leg, "CallSid": ben_leg, "To": f"client:{ben}", "CallStatus": "canceled"}, **query
    )
    signed(
        api,
        account,
        "status",
        {**leg, "CallSid": anna_leg, "To": f"client:{anna}", "CallStatus": "completed", "CallDuration": "192"},
        **query,
    )
    signed(
        api,
        account,
        "recording",
        {
            "CallSid": parent,
            "RecordingSid": recording_sid(n),
            "RecordingStatus": "completed",
            "RecordingDuration": "190",
        },
        kind="call",
        number=number["id"],
    )
    signed(
        api,
        account,
        "status",
        {
            "CallSid": parent,
            "From": caller,
            "To": number["phone_number"],
            "CallStatus": "completed",
            "CallDuration": "200",
            "Direction": "inbound",
        },
    )


def _calls(api: Api, token: str, query: str = "") -> list[dict[str, Any]]:
    status, body, _ = api.call("GET", f"/v1/voip/calls{query}", headers=bearer(token))
    assert status == 200, body
    return body["items"]


def _history(api: Api, token: str, contact_id: str) -> list[dict[str, Any]]:
    status, body, _ = api.call("GET", f"/v1/contacts/{contact_id}/history", headers=bearer(token))
    assert status == 200, body
    return body["items"]


def test_reordered_and_duplicated_callbacks_make_one_answered_call(
    api: Api,
    tenant: Tenant,
    scene: dict[str, Any],
    twilio: Any,
) -> None:
    answered_call_callbacks(api, scene, 100, "+491705550100")
    records = take_messages()
    assert len(records) == 5  # the voice webhook queues nothing; each callback one message
    assert not any("CallStatus" in json.loads(r["body"]).get("query", {}) for r in records)
    shuffled = list(reversed(records)) + random.Random(7).sample(records, len(records))
    assert deliver(shuffled) == []

    anna, anna_token = scene["anna"]
    calls = _calls(api, tenant.owner_token)
    assert len(calls) == 1
    call = calls[0]
    assert (call["direction"], call["status"], call["operator_id"], call["duration"]) == (
        "incoming",
        "answered",
        anna,
        192,
    )
    assert set(call["participants"]) == {anna, scene["ben"][0]}
    assert (call["price"], call["price_unit"]) == ("0.01300", "USD")
    assert call["external_number"] == "+491705550100" and call["number_id"] == scene["number"]["id"]
    # The unknown caller is now a private person Anna manages, with the call in its history.
    status, contact, _ = api.call("GET", f"/v1/contacts/{call['contact_id']}", headers=bearer(anna_token))
    assert status == 200 and contact["first_name"] == "+491705550100" and contact["managers"] == [anna]
    assert contact["access"] == "private"
    assert api.call("GET", f"/v1/contacts/{call['contact_id']}", headers=bearer(scene["carl"][1]))[0] == 404
    events = _history(api, anna_token, call["contact_id"])
    assert [(e["kind"], e["text"]) for e in events] == [("call", "Incoming call, 3 min 12 s")]
    categories = api.call("GET", "/v1/settings/history-categories", headers=bearer(tenant.owner_token))[1]
    phone_call = next(c["id"] for c in categories["items"] if c["name"] == "Phone call")
    assert events[0]["category_id"] == phone_call

    # The recording is the tenant's, in S3, played through a presigned URL.
    assert call["recording"]["duration"] == 190 and call["recording"]["url"].endswith("/recording")
    status, _, headers = api.call("GET", call["recording"]["url"], headers=bearer(anna_token))
    assert status == 302 and f"t/{tenant.id}/voip/calls/" in headers["location"]
    from chalicelib.storage.blobs import BlobStore

    key = headers["location"].split("crm-test-files/", 1)[1].split("?")[0]
    assert BlobStore().get(key)[0].startswith(b"ID3")
    assert recording_sid(100) not in twilio.deleted_recordings  # the tenant keeps them at Twilio

    # Everything once more: nothing changes.
    before = api.call("GET", f"/v1/voip/calls/{call['id']}", headers=bearer(tenant.owner_token))[1]
    assert deliver(records) == []
    after = api.call("GET", f"/v1/voip/calls/{call['id']}", headers=bearer(tenant.owner_token))[1]
    assert after == before
    assert len(_history(api, anna_token, call["contact_id"])) == 1
    status, found, _ = api.call("GET", "/v1/contacts?q=%2B491705550100", headers=bearer(tenant.owner_token))
    assert len(found["items"]) == 1


def test_operators_see_their_own_calls_and_admins_all(
    api: Api,
    tenant: Tenant,
    other_tenant: Tenant,
    scene: dict[str, Any],
    twilio: Any,
) -> None:
    answered_call_callbacks(api, scene, 200, "+491705550200")
    deliver(take_messages())
    call = _calls(api, tenant.owner_token)[0]
    ben_token, carl_token = scene["ben"][1], scene["carl"][1]
    assert [c["id"] for c in _calls(api, ben_token)] == [call["id"]]  # rung, did not answer: it is his too
    assert _calls(api, carl_token) == []
    assert api.call("GET", f"/v1/voip/calls/{call['id']}", headers=bearer(carl_token))[0] == 404
    assert api.call("GET", f"/v1/voip/calls/{call['id']}/recording", headers=bearer(carl_token))[0] == 404
    assert api.call("GET", f"/v1/voip/calls/{call['id']}", headers=bearer(other_tenant.owner_token))[0] == 404
    assert _calls(api, other_tenant.owner_token) == []
    assert _calls(api, tenant.owner_token, "?status=missed") == []
    assert len(_calls(api, tenant.owner_token, f"?operator_id={scene['anna'][0]}&direction=incoming")) == 1
    assert len(_calls(api, tenant.owner_token, f"?contact_id={call['contact_id']}")) == 1
    assert _calls(api, tenant.owner_token, "?from=2999-01-01T00:00:00Z") == []
    assert api.call("GET", "/v1/voip/calls?direction=sideways", headers=bearer(tenant.owner_token))[0] == 422


def test_a_missed_call_from_a_known_contact_with_voicemail_deleted_at_twilio(
    api: Api,
    tenant: Tenant,
    scene: dict[str, Any],
    twilio: Any,
) -> None:
    account, number = scene["account"], scene["number"]
    anna, anna_token = scene["anna"]
    # The tenant wants recordings gone from Twilio once copied.
    status, _, _ = api.call(
        "PUT",
        "/v1/voip/account",
        {"account_sid": account["account_sid"], "delete_recordings_from_twilio": True},
        headers=bearer(tenant.owner_token),
    )
    assert status == 200
    status, contact, _ = api.call(
        "POST",
        "/v1/contacts",
        {
            "kind": "person",
            "first_name": "Eva",
            "last_name": "Known",
            "details": [{"type": "phone", "value": "+4917055503"}],
        },
        headers=bearer(anna_token),
    )
    parent = call_sid(300)
    signed(
        api,
        account,
        "recording",
        {
            "CallSid": parent,
            "RecordingSid": recording_sid(300),
            "RecordingStatus": "completed",
            "RecordingDuration": "9",
        },
        kind="voicemail",
        number=number["id"],
    )
    signed(
        api,
        account,
        "status",
        {
            "CallSid": parent,
            "From": "+4917055503",
            "To": number["phone_number"],
            "CallStatus": "completed",
            "CallDuration": "31",
        },
    )
    records = take_messages()
    assert deliver(records + records) == []
    call = _calls(api, tenant.owner_token, "?status=missed")[0]
    assert call["contact_id"] == contact["id"] and call["recording"]["voicemail"] is True
    assert call["operator_id"] is None and call["duration"] == 0
    assert recording_sid(300) in twilio.deleted_recordings
    assert [e["text"] for e in _history(api, anna_token, contact["id"])] == ["Missed call, voicemail left"]
    # Only the contact that existed: no new person for a known number.
    assert len(api.call("GET", "/v1/contacts", headers=bearer(tenant.owner_token))[1]["items"]) == 1


def test_an_outgoing_call_to_an_unknown_number(api: Api, tenant: Tenant, scene: dict[str, Any], twilio: Any) -> None:
    account, number = scene["account"], scene["number"]
    anna, anna_token = scene["anna"]
    parent, leg = call_sid(400), call_sid(401)
    signed(api, account, "outgoing", {"CallSid": parent, "From": f"client:{anna}", "To": "+4989555400"})
    query = {"leg": "number", "number": number["id"], "op": anna}
    leg_params = {"CallSid": leg, "ParentCallSid": parent, "From": number["phone_number"], "To": "+4989555400"}
    signed(api, account, "status", {**leg_params, "CallStatus": "in-progress"}, **query)
    signed(api, account, "status", {**leg_params, "CallStatus": "completed", "CallDuration": "65"}, **query)
    signed(
        api,
        account,
        "status",
        {"CallSid": parent, "From": f"client:{anna}", "To": "", "CallStatus": "completed", "CallDuration": "70"},
    )
    assert deliver(list(reversed(take_messages()))) == []
    call = _calls(api, anna_token)[0]
    assert (call["direction"], call["status"], call["operator_id"], call["duration"]) == (
        "outgoing",
        "answered",
        anna,
        65,
    )
    assert call["external_number"] == "+4989555400"
    events = _history(api, anna_token, call["contact_id"])
    assert [e["text"] for e in events] == ["Outgoing call, 1 min 5 s"]


def test_a_bad_message_fails_alone(api: Api, tenant: Tenant, scene: dict[str, Any], twilio: Any) -> None:
    answered_call_callbacks(api, scene, 500, "+491705550500")
    records = take_messages()
    broken = dict(records[0], messageId="broken", body='{"kind": "voip.unknown"}')
    from chalicelib.handlers.background.calls import process_call_batch

    result = process_call_batch({"Records": [broken, *records]})
    assert result["batchItemFailures"] == [{"itemIdentifier": "broken"}]
    assert _calls(api, tenant.owner_token)[0]["status"] == "answered"
