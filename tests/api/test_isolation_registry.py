"""TEN-1 from the route registry (issue 19, point 2): tenant A gets one record
of every kind, then tenant B's owner (the most privileged caller B has) calls
EVERY registered route and method with A's ids, keys, cursors and hooks.

- Each path parameter name has a row in PARAMS saying which of A's values it
  takes; each request body model a minimal VALID sample in BODIES (checked
  against the model, so a 422 cannot hide a missing tenant check). A new
  route with a parameter or body this table lacks fails
  test_the_tables_cover_every_registered_route.
- Routes without parameters that take record ids in their body get A's ids
  (ID_BODIES); paged lists get A's cursors.
- Expected: 404 everywhere, except the public families and the few answers
  in EXPECTED, each with its reason. No answer to B contains any of A's ids
  or keys, and A's items and objects are byte for byte what they were.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.conftest import Api, Tenant, bearer, sent_emails
from tests.import_helpers import download_zip
from tests.voip_helpers import ACCOUNT_SID, AUTH_TOKEN, OTHER_SID, OTHER_TOKEN, PUBLIC_URL, post_form

_PARAM = re.compile(r"{([^}]+)}")
_SETTINGS_LIST = re.compile(r"^/v1/settings/([a-z-]+)/\{entry_id\}")
TAG = "AcmeOnlyTag"


# ---- the registry ----


def registered() -> list[tuple[str, str, Any]]:
    """(path, method, Operation) of every route declared through routing.route."""
    from app import app

    found = []
    for path, methods in sorted(app.routes.items()):
        for method, entry in sorted(methods.items()):
            op = getattr(entry.view_function, "operation", None)
            if op is not None:
                found.append((path, method, op))
    return found


# ---- how each path parameter gets tenant A's value ----

World = dict[str, Any]

PARAMS: dict[str, Callable[[World, str], str]] = {
    # A company's persons: the company; elsewhere the person.
    "contact_id": lambda w, path: w["company"] if path.endswith("/persons") else w["person"],
    "deal_id": lambda w, path: w["deal"],
    "case_id": lambda w, path: w["case"],
    "task_id": lambda w, path: w["task"],
    "event_id": lambda w, path: w["history"],
    "file_id": lambda w, path: w["file"],
    "invoice_id": lambda w, path: w["invoice"],
    "product_id": lambda w, path: w["product"],
    "tax_id": lambda w, path: w["tax"],
    "field_id": lambda w, path: w["custom_field"],
    # The settings lists: the entry of the list the path names.
    "entry_id": lambda w, path: w["settings"][_SETTINGS_LIST.match(path).group(1)],  # type: ignore[union-attr]
    "user_id": lambda w, path: w["user"],
    "group_id": lambda w, path: w["group"],
    "token_id": lambda w, path: w["token"],
    "notification_id": lambda w, path: w["notification"],
    "import_id": lambda w, path: w["import"],
    # A job id: the erase or GDPR-export job of A's contact on those routes, A's export job elsewhere.
    "job_id": lambda w, path: w["erase_job"]
    if "/erase/" in path
    else w["gdpr_job"]
    if "/export/" in path
    else w["job"],
    "mailing_id": lambda w, path: w["mailing"],
    "report_id": lambda w, path: w["report"],
    "schedule_id": lambda w, path: w["schedule"],
    "form_id": lambda w, path: w["form"],
    "webhook_id": lambda w, path: w["webhook"],
    "delivery_id": lambda w, path: w["delivery"],
    "number_id": lambda w, path: w["number"],
    "call_id": lambda w, path: w["call"],
    # Tags are names, not ids: a tag only A uses.
    "entity": lambda w, path: "contact",
    "name": lambda w, path: TAG,
    # Public, keyed by a secret of A's (see PUBLIC).
    "key": lambda w, path: w["form_key"],
    "token": lambda w, path: w["unsubscribe"],
    "hook": lambda w, path: w["hook"],
    "asset": lambda w, path: "index.html",
}

# Public routes: no tenant in the request but the one its key names; what B can try instead.
PUBLIC: dict[tuple[str, str], str] = {
    ("/health", "GET"): "not tenant-scoped",
    ("/openapi.json", "GET"): "not tenant-scoped",
    ("/docs", "GET"): "not tenant-scoped",
    ("/docs/{asset}", "GET"): "not tenant-scoped",
    ("/v1/auth/login", "POST"): "B's credentials only: tested by the identity tests (a token of A's rewritten is 401)",
    ("/v1/auth/accept-invitation", "POST"): "an invitation token is the credential; a wrong one is 4xx (identity)",
    # A form key is A's public capability: posting with it is meant to create a lead in A. What must
    # hold is that a key that is not A's (here A's key altered) reaches nothing and creates nothing.
    ("/v1/forms/{key}", "GET"): "altered key: 404",
    ("/v1/forms/{key}", "OPTIONS"): "altered key: no CORS grant for any origin",
    ("/v1/forms/{key}", "POST"): "altered key: 404, nothing created",
    ("/v1/forms/{key}/embed.js", "GET"): "altered key: 404",
    # The unsubscribe token is signed for one recipient of A: altered, it is refused.
    ("/v1/unsubscribe/{token}", "GET"): "altered token: 404",
    ("/v1/unsubscribe/{token}", "POST"): "altered token: 404, nothing changed",
    # Twilio's hooks name A's tenant and key: a request signed with B's Twilio credentials is refused.
    ("/twilio/{hook}/voice", "POST"): "signed by B's Twilio account: 403",
    ("/twilio/{hook}/outgoing", "POST"): "signed by B's Twilio account: 403",
    ("/twilio/{hook}/status", "POST"): "signed by B's Twilio account: 403",
    ("/twilio/{hook}/recording", "POST"): "signed by B's Twilio account: 403",
}

# Answers other than 404 for B with A's values, and why each is not a leak (none today: even the
# tag routes, which take names and not ids, answer 404 for a tag only A uses).
EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {}

# A minimal valid body per request model of a route with path parameters.
BODIES: dict[str, Any] = {
    "CaseChanges": {"title": "pwned"},
    "NewHistoryEvent": {"text": "pwned"},
    "ContactChanges": {"first_name": "pwned"},
    "CustomFieldChanges": {"label": "pwned"},
    "DealChanges": {"title": "pwned"},
    "NewProject": {"title": "pwned"},
    "StageChange": {"stage_id": "B_STAGE"},
    "GroupChanges": {"name": "pwned"},
    "HistoryChanges": {"text": "pwned"},
    "StartImport": {"mapping": [{"column": 0, "field": "first_name"}]},
    "InvoiceChanges": {"notes": "pwned"},
    "DuplicateRequest": {},
    "SendRequest": {},
    "StatusChange": {"status": "billed"},
    "ProductChanges": {"title": "pwned"},
    "ContactTypeChanges": {"name": "pwned"},
    "DealStageChanges": {"name": "pwned"},
    "HistoryCategoryChanges": {"name": "pwned"},
    "TaskCategoryChanges": {"name": "pwned"},
    "TemperatureChanges": {"name": "pwned"},
    "TagRename": {"name": "pwned"},
    "TaskChanges": {"title": "pwned"},
    "TaxChanges": {"name": "pwned"},
    "UserChanges": {"name": "pwned"},
    "NumberChanges": {"alias": "pwned"},
    "WebFormChanges": {"return_url": "https://pwned.example/"},
    "SubscriptionChanges": {"description": "pwned"},
    "ReplayRange": {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
}

# Routes without path parameters whose body names records: B sends A's ids.
ID_BODIES: dict[tuple[str, str], Callable[[World], Any]] = {
    ("/v1/cases", "POST"): lambda w: {"title": "x", "member_ids": [w["person"]]},
    ("/v1/contacts", "POST"): lambda w: {"kind": "person", "first_name": "x", "company_id": w["company"]},
    ("/v1/contacts/bulk", "POST"): lambda w: {"ids": [w["person"]], "action": "add_tags", "tags": ["pwned"]},
    ("/v1/contacts/merge", "POST"): lambda w: {"from_id": w["person"], "into_id": w["company"]},
    ("/v1/deals", "POST"): lambda w: {"title": "x", "contact_id": w["person"]},
    ("/v1/files", "POST"): lambda w: {
        "filename": "x.txt",
        "content_type": "text/plain",
        "size": 10,
        "parent": {"kind": "contact", "id": w["person"]},
    },
    ("/v1/groups", "POST"): lambda w: {"name": "x", "member_ids": [w["user"]]},
    ("/v1/invoices", "POST"): lambda w: {"client_id": w["person"], "lines": [{"title": "x", "price": "1"}]},
    ("/v1/mailings", "POST"): lambda w: {"contact_ids": [w["person"]], "subject": "x", "body": "x"},
    ("/v1/mailings/preview", "POST"): lambda w: {"contact_id": w["person"], "subject": "x", "body": "x"},
    ("/v1/products", "POST"): lambda w: {"title": "x", "price": "1", "tax_ids": [w["tax"]]},
    ("/v1/report-schedules", "POST"): lambda w: {
        "type": "deals_by_manager",
        "period": {"preset": "this_month"},
        "every": "week",
        "manager_ids": [w["user"]],
    },
    ("/v1/reports", "POST"): lambda w: {
        "type": "deals_by_manager",
        "period": {"preset": "this_month"},
        "manager_ids": [w["user"]],
    },
    ("/v1/settings/contact-types/order", "PUT"): lambda w: {"ids": [w["settings"]["contact-types"]]},
    ("/v1/settings/deal-stages/order", "PUT"): lambda w: {"ids": [w["settings"]["deal-stages"]]},
    ("/v1/settings/history-categories/order", "PUT"): lambda w: {"ids": [w["settings"]["history-categories"]]},
    ("/v1/settings/task-categories/order", "PUT"): lambda w: {"ids": [w["settings"]["task-categories"]]},
    ("/v1/settings/temperatures/order", "PUT"): lambda w: {"ids": [w["settings"]["temperatures"]]},
    ("/v1/settings/crm-access", "PUT"): lambda w: {"restricted": True, "user_ids": [w["user"]]},
    ("/v1/tasks", "POST"): lambda w: {"title": "x", "due_at": "2030-01-01T10:00:00Z", "contact_id": w["person"]},
    ("/v1/tasks/bulk", "POST"): lambda w: {
        "title": "x",
        "due_at": "2030-01-01T10:00:00Z",
        "contact_ids": [w["person"]],
    },
    ("/v1/voip/numbers", "POST"): lambda w: {
        "phone_number": "+4930555099",
        "mode": "buy",
        "operators": [{"user_id": w["user"]}],
    },
    # An export's filters name records too (the list filters of each entity).
    ("/v1/exports", "POST"): lambda w: {
        "entities": ["contacts", "deals", "tasks", "cases"],
        "filters": {
            "contacts": {"company_id": w["company"]},
            "deals": {"contact_id": w["person"]},
            "tasks": {"contact_id": w["person"]},
            "cases": {"contact_id": w["person"]},
        },
    },
    # A user of A's, by e-mail address: B may have its own user with that address (the address
    # is unique within a tenant); a refusal here would tell B that A has such a user.
    ("/v1/users", "POST"): lambda w: {"email": "u@acme.example", "name": "U", "role": "user"},
    ("/v1/web-forms", "POST"): lambda w: {
        "name": "x",
        "fields": [{"field": "first_name", "required": True}],
        "return_url": "https://b.example/",
        "manager_ids": [w["user"]],
    },
}
# Bulk operations answer per id: each of A's ids "failed" as not found, exactly as an id
# that exists nowhere (no existence leaks); a mailing's recipient likewise (nothing is sent).
ID_BODY_EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {
    ("/v1/contacts/bulk", "POST"): (200,),
    ("/v1/tasks/bulk", "POST"): (200,),
    ("/v1/mailings", "POST"): (202,),
    ("/v1/exports", "POST"): (202,),  # the export B gets is read back below: none of A's records in it
    ("/v1/users", "POST"): (201,),
}
# Bodies with an id-like field that names no record of the tenant.
# Query parameters that name records: the filters B tries with A's ids (each alone).
QUERY_IDS: dict[str, Callable[[World], str]] = {
    "contact_id": lambda w: w["person"],
    "company_id": lambda w: w["company"],
    "client_id": lambda w: w["person"],
    "record_id": lambda w: w["person"],
    "deal_id": lambda w: w["deal"],
    "case_id": lambda w: w["case"],
    "responsible_id": lambda w: w["user"],
    "manager_id": lambda w: w["user"],
    "operator_id": lambda w: w["user"],
    "author_id": lambda w: w["user"],
    "created_by": lambda w: w["user"],
    "type_id": lambda w: w["settings"]["contact-types"],
    "temperature_id": lambda w: w["settings"]["temperatures"],
    "stage_id": lambda w: w["settings"]["deal-stages"],
    "category_id": lambda w: w["settings"]["task-categories"],
    "replace_with": lambda w: w["settings"]["task-categories"],
}
# The rest of a query that needs more than the id (/v1/changes names its entity).
QUERY_REST: dict[str, str] = {"/v1/changes": "entity=contact"}
_QUERY_ID = re.compile(r"(^|_)id$|^created_by$|^replace_with$")
NO_RECORD_IDS = {
    ("/v1/auth/login", "POST"): "tenant_id picks the account to log into: B's credentials do not log into A",
    ("/v1/settings/invoices", "PUT"): "vat_id is a tax number, not a record id",
}
_ID_FIELD = re.compile(r"(^|_)ids?$|^parent$|^operators$")


def _id_fields(model: Any) -> list[str]:
    return [name for name in model.model_fields if _ID_FIELD.search(name)]


# ---- the tables follow the registry ----


def test_the_tables_cover_every_registered_route():
    routes = registered()
    params = {name for path, _, _ in routes for name in _PARAM.findall(path)}
    assert params == set(PARAMS), "a path parameter without a row in PARAMS, or a row for none"
    public = {(path, method) for path, method, op in routes if op.public}
    assert public == set(PUBLIC), "a public route without its handling in PUBLIC (or a stale entry)"
    models = {op.body.__name__: op.body for path, _, op in routes if op.body and _PARAM.search(path) and not op.public}
    assert set(models) == set(BODIES), "a body model of a route with parameters without a sample in BODIES"
    for name, model in models.items():
        model.model_validate(BODIES[name])  # valid: a 422 cannot stand in for the tenant check
    with_ids = {
        (path, method) for path, method, op in routes if op.body and not _PARAM.search(path) and _id_fields(op.body)
    }
    assert with_ids <= set(ID_BODIES) | set(NO_RECORD_IDS), "a body with record ids the test does not try"
    assert set(EXPECTED) <= {(path, method) for path, method, _ in routes}
    query_ids = {name for _, _, op in routes if op.query for name in op.query.model_fields if _QUERY_ID.search(name)}
    assert query_ids == set(QUERY_IDS), "a query parameter naming records without a row in QUERY_IDS"


# ---- tenant A's world ----


def _ok(answer: tuple[int, Any, dict[str, str]], status: int = 201) -> Any:
    assert answer[0] == status, answer[:2]
    return answer[1]


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 10)).save(out, "PNG")
    return out.getvalue()


def build_world(api: Api, a: Tenant, run_jobs: Any) -> World:
    """Two records of each kind in A (lists page with limit=1), through the API
    where it can make them; calls and deliveries through their stores, as the
    Twilio and stream handlers write them."""
    from chalicelib.bootstrap import container
    from chalicelib.domain.voip.models import Call, CallDirection, CallStatus
    from chalicelib.domain.webhooks.models import Delivery

    owner = bearer(a.owner_token)

    def post(path: str, body: Any, status: int = 201) -> Any:
        return _ok(api.call("POST", path, body, headers=owner), status)

    w: World = {}
    w["user"], user_token = a.add_user("u@acme.example")
    w["user_token"] = user_token
    a.add_user("v@acme.example")
    w["notification"] = _ok(api.call("GET", "/v1/notifications", headers=bearer(user_token)), 200)["items"][0]["id"]
    w["group"] = post("/v1/groups", {"name": "A-team", "member_ids": [w["user"]]})["id"]
    post("/v1/groups", {"name": "B-team"})
    w["token"] = post("/v1/tokens", {"name": "script"})["id"]
    post("/v1/tokens", {"name": "script 2"})
    w["person"] = post(
        "/v1/contacts",
        {
            "kind": "person",
            "first_name": "Anna",
            "last_name": "Acme",
            "tags": [TAG],
            "details": [{"type": "email", "value": "anna@example.de"}],
        },
    )["id"]
    w["company"] = post("/v1/contacts", {"kind": "company", "company_name": "Acme GmbH", "tags": [TAG]})["id"]
    erasable = post("/v1/contacts", {"kind": "person", "first_name": "Erik", "last_name": "Erasable"})["id"]
    photo = api.client.http.put(
        f"/v1/contacts/{w['person']}/photo", body=_png(), headers={**owner, "content-type": "image/png"}
    )
    assert photo.status_code == 200, photo.body
    w["custom_field"] = post("/v1/custom-fields", {"entity": "contact", "label": "Size", "type": "text"})["id"]
    w["settings"] = {
        name: _ok(api.call("GET", f"/v1/settings/{name}", headers=owner), 200)["items"][0]["id"]
        for name in ("contact-types", "temperatures", "task-categories", "history-categories", "deal-stages")
    }
    w["deal"] = post("/v1/deals", {"title": "ERP", "contact_id": w["person"], "tags": [TAG]})["id"]
    post("/v1/deals", {"title": "CRM", "access_list": [w["user"]]})  # notifies U: two notifications
    post(f"/v1/deals/{w['deal']}/projects", {"title": "Rollout"})
    w["case"] = post("/v1/cases", {"title": "Summit", "member_ids": [w["person"]]})["id"]
    post("/v1/cases", {"title": "Workshop"})
    w["task"] = post("/v1/tasks", {"title": "Call", "due_at": "2030-01-01T10:00:00Z", "contact_id": w["person"]})["id"]
    post("/v1/tasks", {"title": "Mail", "due_at": "2030-01-02T10:00:00Z", "responsible_id": w["user"]})
    upload = post(
        "/v1/files",
        {
            "filename": "cv.txt",
            "content_type": "text/plain",
            "size": 5,
            "parent": {"kind": "contact", "id": w["person"]},
        },
    )
    w["file"] = upload["id"] if "id" in upload else upload["file"]["id"]
    from chalicelib.storage.blobs import BlobStore
    from chalicelib.storage.records.files import object_key

    BlobStore().put(object_key(a.id, w["file"]), b"hello", "text/plain")
    w["history"] = post(f"/v1/contacts/{w['person']}/history", {"text": "Met", "file_ids": [w["file"]]})["id"]
    # Every list under a record gets two entries, so that each has a second page (its cursor is tried).
    for person in ("Pia", "Paul"):
        post("/v1/contacts", {"kind": "person", "first_name": person, "last_name": "P", "company_id": w["company"]})
    for collection in ("contacts", "deals", "cases"):
        parent = w[collection[:-1] if collection != "contacts" else "person"]
        for n in range(2 if collection != "contacts" else 1):
            post(f"/v1/{collection}/{parent}/history", {"text": f"Note {n}"})
            file = {"filename": f"f{n}.txt", "content_type": "text/plain", "size": 5}
            post("/v1/files", {**file, "parent": {"kind": collection[:-1], "id": parent}})
    post(f"/v1/deals/{w['deal']}/projects", {"title": "Training"})
    w["tax"] = post("/v1/taxes", {"name": "USt 19 %", "rate": "19"})["id"]
    w["product"] = post("/v1/products", {"title": "Support", "price": "95", "tax_ids": [w["tax"]]})["id"]
    post("/v1/products", {"title": "Training", "price": "500"})
    line = {"title": "Consulting", "quantity": "1", "price": "100", "tax_ids": [w["tax"]]}
    w["invoice"] = post("/v1/invoices", {"client_id": w["person"], "deal_id": w["deal"], "lines": [line]})["id"]
    post("/v1/invoices", {"client_id": w["person"], "deal_id": w["deal"], "lines": [line]})
    for collection in ("contacts", "deals", "cases", "tasks", "invoices"):
        record = w[collection[:-1] if collection != "contacts" else "person"]
        change = {"notes": "changed"} if collection == "invoices" else {"first_name": "Anne"}
        if collection in ("deals", "cases", "tasks"):
            change = {"title": "changed"}
        headers = {
            **owner,
            "If-Match": f'"{_ok(api.call("GET", f"/v1/{collection}/{record}", headers=owner), 200)["version"]}"',
        }
        _ok(api.call("PATCH", f"/v1/{collection}/{record}", change, headers=headers), 200)
    w["import"] = post("/v1/imports", {"entity": "contacts", "filename": "people.csv"})["id"]
    form = {
        "name": "Contact us",
        "fields": [{"field": "first_name", "required": True}, {"field": "last_name", "required": True}],
        "return_url": "https://www.acme.example/thanks",
    }
    made = post("/v1/web-forms", form)
    w["form"], w["form_key"] = made["id"], made["key"]
    post("/v1/web-forms", {**form, "name": "Other"})
    w["webhook"] = post("/v1/webhooks", {"url": "https://93.184.216.34/hook", "events": ["deal.created"]})["id"]
    post("/v1/webhooks", {"url": "https://93.184.216.34/other", "events": ["contact.created"]})
    now = datetime.now(UTC)
    delivery = Delivery(
        id="01JDELIVERY0000000000000A1",
        tenant_id=a.id,
        subscription_id=w["webhook"],
        event_id="01JEVENT000000000000000001",
        event_type="deal.created",
        occurred_at=now,
        payload="{}",
        created_at=now,
    )
    assert container().webhook_delivery_store.add(delivery)
    assert container().webhook_delivery_store.add(delivery.model_copy(update={"id": "01JDELIVERY0000000000000A2"}))
    w["delivery"] = delivery.id
    w["report"] = post("/v1/reports", {"type": "deals_by_manager", "period": {"preset": "this_month"}}, 202)["id"]
    post("/v1/reports", {"type": "deals_by_manager", "period": {"preset": "last_month"}}, 202)
    schedule = {"type": "summary_period", "period": {"preset": "last_week"}, "every": "week"}
    w["schedule"] = post("/v1/report-schedules", schedule)["id"]
    post("/v1/report-schedules", {**schedule, "every": "month"})
    mailing = {"contact_ids": [w["person"], w["company"]], "subject": "Hi", "body": "Hello"}
    w["mailing"] = post("/v1/mailings", mailing, 202)["id"]
    w["job"] = post("/v1/exports", {"entities": ["contacts"]}, 202)["job_id"]
    w["gdpr_job"] = _ok(api.call("GET", f"/v1/contacts/{w['person']}/export", headers=owner), 202)["job_id"]
    w["erase_job"] = post(f"/v1/contacts/{erasable}/erase", None, 202)["job_id"]
    assert run_jobs()["failures"] == []
    # The unsubscribe link of the mail the mailing sent.
    raw = "\n".join(m.raw_data if hasattr(m, "raw_data") else str(m) for m in sent_emails())
    found = re.search(r"/v1/unsubscribe/([^\s>]+)>", raw)
    assert found, "the mailing sent no unsubscribe link"
    w["unsubscribe"] = found.group(1)
    # Telephony: A's account, a number and two calls.
    account = _ok(
        api.call("PUT", "/v1/voip/account", {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}, headers=owner), 200
    )
    w["hook"] = account["webhook_base_url"].removeprefix(f"{PUBLIC_URL}/twilio/")
    w["number"] = post("/v1/voip/numbers", {"phone_number": "+4930555015", "mode": "buy", "operators": []})["id"]
    for n in (1, 2):
        call = Call(
            id=f"01JCALL00000000000000000{n:02d}",
            tenant_id=a.id,
            call_sid=f"CA{n:032x}",
            direction=CallDirection.INCOMING,
            status=CallStatus.ANSWERED,
            external_number="+4930123456",
            contact_id=w["person"],
            started_at=now,
            created_at=now,
            updated_at=now,
        )
        container().call_store.create(call, by=a.owner_id)
    w["call"] = "01JCALL0000000000000000001"
    return w


def build_parents(api: Api, b: Tenant) -> World:
    """B's own record of each kind a list under a record hangs from: A's cursor is tried there."""
    owner = bearer(b.owner_token)

    def post(path: str, body: Any, status: int = 201) -> Any:
        return _ok(api.call("POST", path, body, headers=owner), status)

    wb: World = {"person": post("/v1/contacts", {"kind": "person", "first_name": "Bea", "last_name": "B"})["id"]}
    wb["company"] = post("/v1/contacts", {"kind": "company", "company_name": "Globex"})["id"]
    wb["deal"] = post("/v1/deals", {"title": "B deal"})["id"]
    wb["case"] = post("/v1/cases", {"title": "B case"})["id"]
    wb["task"] = post("/v1/tasks", {"title": "B task", "due_at": "2030-01-01T10:00:00Z"})["id"]
    wb["invoice"] = post("/v1/invoices", {"client_id": wb["person"], "lines": [{"title": "x", "price": "1"}]})["id"]
    wb["mailing"] = post("/v1/mailings", {"contact_ids": [wb["person"]], "subject": "s", "body": "b"}, 202)["id"]
    wb["webhook"] = post("/v1/webhooks", {"url": "https://93.184.216.34/b", "events": ["deal.created"]})["id"]
    return wb


def _a_state(tenant_id: str) -> tuple[dict[str, str], dict[str, bytes]]:
    """Every item and object of tenant A, to compare before and after B's calls."""
    from chalicelib.config import get_settings
    from chalicelib.storage.dynamo.aws import client
    from chalicelib.storage.dynamo.table import Table

    items = {
        f"{item['pk']}|{item['sk']}": json.dumps(item, sort_keys=True, default=str)
        for item in Table().scan()
        # Rate-limit counters move with A's own calls (the cursors of its lists, read during the run).
        if str(item["pk"]).startswith(f"T#{tenant_id}#") and "#LIMIT#" not in str(item["pk"])
    }
    s3, bucket, objects = client("s3"), get_settings().bucket_name, {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            if tenant_id in version["Key"]:
                objects[f"{version['Key']}@{version['VersionId']}"] = version["ETag"]
    return items, objects


def _secrets_of(w: World) -> set[str]:
    values = {v for k, v in w.items() if isinstance(v, str)} | set(w["settings"].values()) | {TAG}
    return {v for v in values if len(v) >= 10}


def _fill(path: str, w: World) -> str:
    return _PARAM.sub(lambda m: PARAMS[m.group(1)](w, path), path)


def _alter(secret: str) -> str:
    """The same secret with its last characters changed (a key that is not A's)."""
    return secret[:-4] + ("aaaa" if not secret.endswith("aaaa") else "bbbb")


def test_tenant_b_reaches_nothing_of_tenant_a_through_any_route(api, tenant, other_tenant, run_jobs, twilio):
    a, b = tenant, other_tenant
    w = build_world(api, a, run_jobs)
    # B is connected to Twilio too, with its own account: its signatures are valid, for B.
    _ok(
        api.call(
            "PUT",
            "/v1/voip/account",
            {"account_sid": OTHER_SID, "auth_token": OTHER_TOKEN},
            headers=bearer(b.owner_token),
        ),
        200,
    )
    stage_b = _ok(api.call("GET", "/v1/settings/deal-stages", headers=bearer(b.owner_token)), 200)["items"][0]["id"]
    wb = build_parents(api, b)
    before, mails_before = _a_state(a.id), len(sent_emails())
    secrets = _secrets_of(w) | {a.id}
    leaks: list[str] = []
    b_export = ""
    covered: set[str] = set()
    tried = 0

    def check(label: str, answer: tuple[int, Any, dict[str, str]], allowed: tuple[int, ...], sent: Any = None) -> None:
        status, body, headers = answer
        covered.add(label.split(" (")[0].split(" with ")[0].split("?")[0])
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else json.dumps(body)
        text += " " + headers.get("location", "")
        if status not in allowed:
            leaks.append(f"{label}: {status} (expected {allowed}) {text[:200]}")
        # An id B sent may come back (a 422 naming the field, a bulk result per id); nothing else of A's.
        named = sorted(s for s in secrets if s in text and s not in json.dumps(sent))
        if named:
            leaks.append(f"{label}: the answer names A's {named}")

    b_owner = bearer(b.owner_token)
    for path, method, op in registered():
        if op.public:
            continue
        params = _PARAM.findall(path)
        if params:
            target = _fill(path, w)
            body = BODIES.get(op.body.__name__) if op.body else None
            if body is not None and op.body.__name__ == "StageChange":
                body = {"stage_id": stage_b}
            headers = {**b_owner, "If-Match": '"1"'} if op.if_match else dict(b_owner)
            if op.content_types and "image/png" in op.content_types:
                response = api.client.http.put(target, body=_png(), headers={**headers, "content-type": "image/png"})
                answer = (response.status_code, response.body, {k.lower(): v for k, v in response.headers.items()})
            else:
                answer = api.call(method, target, body, headers=headers)
            check(f"{method} {path}", answer, EXPECTED.get((path, method), (404,)))
            tried += 1
            if op.paged:
                # A's cursor of this list, on B's own record's list: refused.
                status, page, _ = api.call("GET", f"{target}?limit=1", headers=bearer(a.owner_token))
                assert status == 200 and page["next_cursor"], f"A has one page only of {path}: give it two entries"
                answer = api.call("GET", f"{_fill(path, wb)}?limit=1&cursor={page['next_cursor']}", headers=b_owner)
                check(f"GET {path} with A's cursor", answer, (400,))
                if answer[0] == 400 and answer[1].get("detail") != "The cursor is not valid for this query.":
                    leaks.append(f"GET {path} with A's cursor: {answer[1]}")
                tried += 1
        elif (path, method) in ID_BODIES:
            sent = ID_BODIES[(path, method)](w)
            answer = api.call(method, path, sent, headers=b_owner)
            check(f"{method} {path} with A's ids", answer, ID_BODY_EXPECTED.get((path, method), (404, 422)), sent)
            if answer[0] in (200, 202) and (answer[1].get("succeeded") or answer[1].get("created")):
                leaks.append(f"{method} {path}: done for A's ids {answer[1]}")
            if path == "/v1/exports" and answer[0] == 202:
                b_export = answer[1]["status_url"]
            tried += 1
        elif method == "GET":
            rest = QUERY_REST.get(path, "")
            if op.paged:
                query = "&".join(q for q in (rest, "limit=1") if q)
                if "record_id" in (op.query.model_fields if op.query else {}):
                    query += f"&record_id={w['person']}"
                lister = bearer(w["user_token"] if path == "/v1/notifications" else a.owner_token)
                status, page, _ = api.call("GET", f"{path}?{query}", headers=lister)
                assert status == 200 and page["next_cursor"], (path, page, api.call("GET", path, headers=lister)[1])
                answer = api.call("GET", f"{path}?{query}&cursor={page['next_cursor']}", headers=b_owner)
                check(f"GET {path} with A's cursor", answer, (400, 404))
                if answer[0] == 400 and answer[1].get("detail") != "The cursor is not valid for this query.":
                    leaks.append(f"GET {path}: {answer[1]}")
            # Each filter naming a record, with A's id: B's own (empty) view, or 404.
            for name in op.query.model_fields if op.query else ():
                if _QUERY_ID.search(name):
                    query = "&".join(q for q in (rest, f"{name}={QUERY_IDS[name](w)}") if q)
                    check(f"GET {path}?{name}=A's", api.call("GET", f"{path}?{query}", headers=b_owner), (200, 404))
                    tried += 1
            # And without: B's own view names nothing of A's.
            if not rest:
                check(f"GET {path} (B's own)", api.call("GET", path, headers=b_owner), (200, 403, 404))
            tried += 1

    # The public families, with what B (or anyone) can try.
    for path, method in PUBLIC:
        if "{key}" in path:
            target = path.replace("{key}", _alter(w["form_key"]))
            if method == "POST":
                answer = api.call("POST", target, {"first_name": "Mallory", "last_name": "B"})
            else:
                answer = api.call(method, target, headers={"Origin": "https://evil.example"})
            allowed: tuple[int, ...] = (404,) if method != "OPTIONS" else (204, 200, 404)
            if method == "OPTIONS" and answer[2].get("access-control-allow-origin"):
                leaks.append(f"OPTIONS {path}: a CORS grant for an altered key")
            check(f"{method} {path} (altered key)", answer, allowed)
        elif "{token}" in path:
            target = path.replace("{token}", _alter(w["unsubscribe"]))
            if method == "POST":
                form = {"Content-Type": "application/x-www-form-urlencoded"}
                answer = api.call(method, target, raw="List-Unsubscribe=One-Click", headers=form)
            else:
                answer = api.call(method, target)
            check(f"{method} {path} (altered token)", answer, (404,))
        elif "{hook}" in path:
            target = path.replace("{hook}", w["hook"])
            params = {"CallSid": "CA" + "1" * 32, "From": "+491705550123", "To": "+4930555015"}
            check(f"POST {path} (signed by B)", post_form(api, target, params, token=OTHER_TOKEN), (403,))
        else:
            continue
        tried += 1

    # What B's calls queued runs now: a job carrying A's ids must change nothing of A either.
    run_jobs()
    # B's export filtered by A's ids: made, and holding nothing of A's.
    job = _ok(api.call("GET", b_export, headers=bearer(b.owner_token)), 200)
    assert job["status"] == "done", job
    for name in download_zip(job).namelist():
        text = download_zip(job).read(name).decode("utf-8-sig")
        if any(secret in text for secret in secrets):
            leaks.append(f"B's export {name} names A's records: {text[:300]}")
    after = _a_state(a.id)
    changed_items = sorted(k for k in set(before[0]) | set(after[0]) if before[0].get(k) != after[0].get(k))
    changed_objects = sorted(set(before[1]) ^ set(after[1]))
    assert not leaks, "\n".join(leaks)
    # B's calls send B's own mail (the invitation of its new user); none to an address of A's.
    new_mail = [json.dumps(getattr(m, "destinations", None), default=str) for m in sent_emails()[mails_before:]]
    assert not [d for d in new_mail if "example.de" in d], new_mail
    assert not changed_items and not changed_objects, (changed_items, changed_objects)
    routes = registered()
    with_params = {
        f"{method} {path}"
        for path, method, _ in routes
        if _PARAM.search(path) and PUBLIC.get((path, method)) != "not tenant-scoped"
    }
    assert with_params <= covered, with_params - covered
    print(f"isolation: {tried} requests, {len(covered)} of {len(routes)} registered routes")
