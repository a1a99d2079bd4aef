"""GDPR (issue 18): a person who touches every feature is exported as a ZIP and
then erased; afterwards EVERY item of the table and EVERY object version of the
bucket is read, and their name, e-mail and phone are found nowhere."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from tests.conftest import Api, Tenant, bearer

FIRST, LAST = "Zelda", "Quixbrandt"
EMAIL = "zelda.quix@example.org"
PHONE, PHONE_E164 = "+49 30 98765432", "+493098765432"
NEEDLES = [FIRST.lower(), LAST.lower(), EMAIL, PHONE_E164, "98765432"]


def _ok(answer: tuple[int, Any, dict[str, str]], status: int = 201) -> Any:
    assert answer[0] == status, answer[1]
    return answer[1]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def _bucket() -> str:
    from chalicelib.config import get_settings

    return get_settings().bucket_name


def _all_items() -> list[dict[str, Any]]:
    from chalicelib.storage.dynamo.table import Table

    return list(Table().scan())


def _all_objects() -> dict[str, bytes]:
    """Every version of every object; ZIP members read out (an export is deflated)."""
    from chalicelib.storage.dynamo.aws import client

    s3, found = client("s3"), {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=_bucket()):
        for version in page.get("Versions", []):
            key, vid = version["Key"], version["VersionId"]
            data = s3.get_object(Bucket=_bucket(), Key=key, VersionId=vid)["Body"].read()
            found[f"{key}@{vid}"] = data
            if data[:2] == b"PK":
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    for name in archive.namelist():
                        found[f"{key}@{vid}!{name}"] = archive.read(name)
    return found


def _hits(contact_id: str) -> list[str]:
    hits = []
    for item in _all_items():
        text = repr(item).lower()
        hits += [f"item {item['pk']} {item['sk']}: {n}" for n in NEEDLES if n.lower() in text]
    for name, data in _all_objects().items():
        text = data.decode("utf-8", "replace").lower()
        hits += [f"object {name}: {n}" for n in NEEDLES if n.lower() in text]
        if contact_id in name:
            hits.append(f"object named for the contact: {name}")
    return hits


def _person_in_every_feature(api: Api, tenant: Tenant, run_jobs: Any) -> dict[str, str]:
    from chalicelib.bootstrap import container
    from chalicelib.domain.voip.models import Call, CallDirection, CallStatus, Recording
    from chalicelib.storage.blobs import BlobStore
    from chalicelib.storage.records.files import object_key

    owner = bearer(tenant.owner_token)
    user_id, _ = tenant.add_user("helper@acme.example")
    field = _ok(
        api.call("POST", "/v1/custom-fields", {"entity": "contact", "label": "Nickname", "type": "text"}, headers=owner)
    )
    person = _ok(
        api.call(
            "POST",
            "/v1/contacts",
            {
                "kind": "person",
                "first_name": FIRST,
                "last_name": LAST,
                "description": f"Met {FIRST} at the fair",
                "managers": [tenant.owner_id, user_id],  # the helper's inbox now names her
                "details": [
                    {"type": "email", "value": EMAIL, "primary": True},
                    {"type": "phone", "value": PHONE},
                    {"type": "address", "value": {"street": "Quixweg 1", "city": "Berlin", "zip": "10115"}},
                ],
                "custom_fields": {field["id"]: f"{FIRST}chen"},
            },
            headers=owner,
        )
    )
    cid = person["id"]
    other = _ok(
        api.call("POST", "/v1/contacts", {"kind": "person", "first_name": "Otto", "last_name": "Other"}, headers=owner)
    )
    # A change, so the change log holds old and new values.
    _ok(
        api.call(
            "PATCH", f"/v1/contacts/{cid}", {"job_title": f"Head of {LAST} Labs"}, headers={**owner, "If-Match": '"1"'}
        ),
        200,
    )
    photo = api.client.http.put(
        f"/v1/contacts/{cid}/photo", body=_png(), headers={**owner, "content-type": "image/png"}
    )
    assert photo.status_code == 200, photo.body
    # A history note with a file whose bytes name her.
    content = f"CV of {FIRST} {LAST}, {EMAIL}".encode()
    upload = _ok(
        api.call(
            "POST",
            "/v1/files",
            {
                "filename": "cv.txt",
                "content_type": "text/plain",
                "size": len(content),
                "parent": {"kind": "contact", "id": cid},
            },
            headers=owner,
        )
    )
    file_id = upload["id"] if "id" in upload else upload["file"]["id"]
    BlobStore().put(object_key(tenant.id, file_id), content, "text/plain")
    _ok(
        api.call(
            "POST", f"/v1/contacts/{cid}/history", {"text": f"Called {FIRST}", "file_ids": [file_id]}, headers=owner
        )
    )
    _ok(
        api.call(
            "POST",
            "/v1/tasks",
            {"title": f"Call {FIRST} back", "due_at": "2030-01-01T10:00:00Z", "contact_id": cid},
            headers=owner,
        )
    )
    deal = _ok(api.call("POST", "/v1/deals", {"title": "ERP rollout", "contact_id": cid}, headers=owner))
    case = _ok(api.call("POST", "/v1/cases", {"title": "Summit", "member_ids": [cid, other["id"]]}, headers=owner))
    # A recorded call with her (the telephony feature's store, as its webhooks write it).
    now = datetime.now(UTC)
    recording_key = container().recording_blobs.key(tenant.id, "01CALL", "RE1")
    BlobStore().put(recording_key, f"voice of {FIRST}".encode(), "audio/mpeg")
    container().call_store.create(
        Call(
            id="01CALL",
            tenant_id=tenant.id,
            call_sid="CA1",
            direction=CallDirection.INCOMING,
            status=CallStatus.ANSWERED,
            external_number=PHONE_E164,
            contact_id=cid,
            started_at=now,
            created_at=now,
            updated_at=now,
            history_text=f"Incoming call from {FIRST}",
            recording=Recording(sid="RE1", key=recording_key, content_type="audio/mpeg"),
        ),
        by=tenant.owner_id,
    )
    # An invoice to her (kept by law: anonymised, not deleted), with her billing address.
    _ok(
        api.call(
            "PUT",
            "/v1/settings/invoices",
            {"company_name": "Acme GmbH", "address": {"street": "Hauptstr. 5", "city": "Berlin", "country": "DE"}},
            headers=owner,
        ),
        200,
    )
    tax = _ok(api.call("POST", "/v1/taxes", {"name": "USt 19 %", "rate": "19"}, headers=owner))
    invoice = _ok(
        api.call(
            "POST",
            "/v1/invoices",
            {
                "client_id": cid,
                "issue_date": "2026-12-01",
                "due_date": "2026-12-31",
                "billing_address": {"street": "Quixweg 1", "city": "Berlin", "zip": "10115", "country": "DE"},
                "lines": [{"title": "Consulting", "quantity": "1", "price": "100", "tax_ids": [tax["id"]]}],
            },
            headers=owner,
        )
    )
    # A mailing to her with a history event per recipient.
    _ok(
        api.call(
            "POST",
            "/v1/mailings",
            {
                "contact_ids": [cid],
                "subject": "Hi {{ first_name }}",
                "body": "Dear {{ display_name }}",
                "add_history": True,
            },
            headers=owner,
        ),
        202,
    )
    assert run_jobs()["failures"] == []
    return {
        "contact": cid,
        "other": other["id"],
        "deal": deal["id"],
        "case": case["id"],
        "file": file_id,
        "invoice": invoice["id"],
    }


def test_export_then_erase_leaves_no_trace_in_the_table_or_the_bucket(api: Api, tenant: Tenant, run_jobs: Any) -> None:
    ids = _person_in_every_feature(api, tenant, run_jobs)
    cid, owner = ids["contact"], bearer(tenant.owner_token)

    # ---- the export: a ZIP built in the background ----
    started = _ok(api.call("GET", f"/v1/contacts/{cid}/export", headers=owner), 202)
    assert run_jobs()["failures"] == []
    status = _ok(api.call("GET", started["status_url"], headers=owner), 200)
    assert status["status"] == "done" and status["result"]["download_url"]
    (zip_key,) = [name.split("@")[0] for name in _all_objects() if name.startswith("exports/") and "!" not in name]
    from chalicelib.storage.dynamo.aws import client

    archive = zipfile.ZipFile(io.BytesIO(client("s3").get_object(Bucket=_bucket(), Key=zip_key)["Body"].read()))
    names = set(archive.namelist())
    assert {
        "manifest.json",
        "contacts/contact.json",
        "contacts/photo.jpeg",  # photos are stored as JPEG
        "records/history.json",
        "records/files.json",
        "records/change_log.json",
        f"records/files/{ids['file']}-cv.txt",
        "tasks/tasks.json",
        "deals/deals.json",
        "cases/cases.json",
        "voip/calls.json",
        "voip/recordings/01CALL.mp3",
        "mailing/mailing_results.json",
        "invoices/invoices.json",
    } <= names, names
    (contact,) = json.loads(archive.read("contacts/contact.json"))
    assert contact["first_name"] == FIRST and EMAIL in json.dumps(contact["details"])
    assert archive.read(f"records/files/{ids['file']}-cv.txt").startswith(f"CV of {FIRST}".encode())
    history = json.loads(archive.read("records/history.json"))
    assert {h["kind"] for h in history} >= {"note", "email"}  # the note and the mailing's event
    assert [t["title"] for t in json.loads(archive.read("tasks/tasks.json"))] == [f"Call {FIRST} back"]
    assert [d["id"] for d in json.loads(archive.read("deals/deals.json"))] == [ids["deal"]]
    assert [c["id"] for c in json.loads(archive.read("cases/cases.json"))] == [ids["case"]]
    assert archive.read("voip/recordings/01CALL.mp3") == f"voice of {FIRST}".encode()
    assert [r["status"] for r in json.loads(archive.read("mailing/mailing_results.json"))] == ["sent"]
    assert [i["id"] for i in json.loads(archive.read("invoices/invoices.json"))] == [ids["invoice"]]
    assert {e["action"] for e in json.loads(archive.read("records/change_log.json"))} >= {"created", "updated"}

    # A report that lists contacts names her too (its workbook and the rows parked while it was made).
    report = _ok(
        api.call(
            "POST", "/v1/reports", {"type": "contacts_by_manager", "period": {"preset": "this_month"}}, headers=owner
        ),
        202,
    )
    assert run_jobs()["failures"] == []
    # So does the tenant's export ZIP of contacts.
    _ok(api.call("POST", "/v1/exports", {"entities": ["contacts"]}, headers=owner), 202)
    assert run_jobs()["failures"] == []

    # Before: she is everywhere (so the scan below can fail).
    before = _hits(cid)
    assert any(hit.startswith(f"object t/{tenant.id}/reports/{report['id']}/") for hit in before), before
    assert any(hit.startswith(f"object exports/t/{tenant.id}/exports/") for hit in before), before
    for place in (
        "CONTACT#",
        "CX#w#",
        "CX#tel#",
        "CHANGES#contact#",
        "CHANGES#task#",
        "TASK#",
        "CALL#",
        "NOTIF#",
    ):
        assert any(place in hit for hit in before), (place, before)
    assert any(hit.startswith("object exports/") for hit in before) and any("voip/calls" in h for h in before)

    # ---- the erasure ----
    started = _ok(api.call("POST", f"/v1/contacts/{cid}/erase", headers=owner), 202)
    assert run_jobs()["failures"] == []
    status = _ok(api.call("GET", started["status_url"], headers=owner), 200)
    assert status["status"] == "done"
    assert _hits(cid) == []
    from chalicelib.bootstrap import container

    assert container().mailing_store.results_for_contact(tenant.id, cid) == []  # its id, in mailings' results

    # The report that named her is gone (made again on demand).
    assert _ok(api.call("GET", f"/v1/reports/{report['id']}", headers=owner), 404)["status"] == 404

    # What stays: the business records without her, and the fact of the erasure.
    assert _ok(api.call("GET", f"/v1/contacts/{cid}", headers=owner), 404)["status"] == 404
    deal = _ok(api.call("GET", f"/v1/deals/{ids['deal']}", headers=owner), 200)
    case = _ok(api.call("GET", f"/v1/cases/{ids['case']}", headers=owner), 200)
    assert deal["contact_id"] is None and case["member_ids"] == [ids["other"]]
    invoice = _ok(api.call("GET", f"/v1/invoices/{ids['invoice']}", headers=owner), 200)
    assert invoice["totals"]["total"] == "119.00" and "[erased]" in json.dumps(invoice)  # kept, anonymised
    from chalicelib.storage.gdpr import change_log_items

    entries = change_log_items(tenant.id, "contact", cid)
    assert [(e["action"], json.loads(e["changes"]), e["by"]) for e in entries] == [("erased", [], tenant.owner_id)]
    _ok(api.call("GET", f"/v1/contacts/{ids['other']}", headers=owner), 200)
    # A second delivery of the job changes nothing (and fails nothing).
    from chalicelib.domain.gdpr.service import GdprMessage

    container().gdpr.run(GdprMessage(kind="gdpr.erase", tenant_id=tenant.id, job_id=started["job_id"]))
    assert _hits(cid) == []


def test_only_admins_export_and_erase_and_hidden_contacts_are_404(
    api: Api, tenant: Tenant, other_tenant: Tenant
) -> None:
    owner = bearer(tenant.owner_token)
    person = {"kind": "person", "first_name": "A", "last_name": "B", "access": "shared_read"}
    cid = _ok(api.call("POST", "/v1/contacts", person, headers=owner))["id"]
    hidden = _ok(api.call("POST", "/v1/contacts", {**person, "access": "private"}, headers=owner))["id"]
    _, user_token = tenant.add_user("plain@acme.example")
    status, _, _ = api.call("POST", f"/v1/contacts/{cid}/erase", headers=bearer(user_token))
    assert status == 403
    status, _, _ = api.call("GET", f"/v1/contacts/{cid}/export", headers=bearer(user_token))
    assert status == 403
    # A contact the user may not read: 404, as one that does not exist (a 403 would tell it exists).
    assert api.call("POST", f"/v1/contacts/{hidden}/erase", headers=bearer(user_token))[0] == 404
    assert api.call("GET", f"/v1/contacts/{hidden}/export", headers=bearer(user_token))[0] == 404
    for path, method in ((f"/v1/contacts/{cid}/erase", "POST"), (f"/v1/contacts/{cid}/export", "GET")):
        status, _, _ = api.call(method, path, headers=bearer(other_tenant.owner_token))
        assert status == 404
    started = _ok(api.call("POST", f"/v1/contacts/{cid}/erase", headers=owner), 202)
    status, _, _ = api.call("GET", started["status_url"], headers=bearer(other_tenant.owner_token))
    assert status == 404
    status, _, _ = api.call("GET", started["status_url"], headers=bearer(user_token))
    assert status == 404
