"""What a user can list equals what they can get (issue 19, point 3).

One tenant; a regular user U; records of every type, some U may read (by the
rules of domain/shared/access.py) and some private to another user V. For
each type, the ids U reaches through every way the API offers (lists over
all pages, filters, search, counts, the user's export, the related lists,
the change log, GDPR export) must be exactly the ids GET by id answers 200
for, and every other id must answer 404 everywhere (never 403: a 403 would
tell that the hidden record exists). The expected readable set is written
down from the policy as well, so the test also fails if GET itself is wrong.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.test_reports_api import report_file
from tests.conftest import Api, Tenant, bearer
from tests.import_helpers import download_zip, export, read_csv

TAG = "Matrix"
DUE = "2030-01-01T10:00:00Z"


def _ok(answer: tuple[int, Any, dict[str, str]], status: int = 201) -> Any:
    assert answer[0] == status, answer[:2]
    return answer[1]


def _all_pages(api: Api, token: str, path: str) -> list[dict[str, Any]]:
    """Every item of a list, two per page (so paging itself is exercised)."""
    items: list[dict[str, Any]] = []
    joiner = "&" if "?" in path else "?"
    cursor = None
    while True:
        url = f"{path}{joiner}limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = _ok(api.call("GET", url, headers=bearer(token)), 200)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


class World:
    """Records of every type; ``visible[type]`` is what the policy lets U read."""

    def __init__(self, api: Api, tenant: Tenant):
        self.api, self.tenant = api, tenant
        self.u, self.u_token = tenant.add_user("u@acme.example")
        self.v, self.v_token = tenant.add_user("v@acme.example")
        self.all: dict[str, dict[str, str]] = {}  # type -> name -> id
        self.visible: dict[str, set[str]] = {}

    def post(self, path: str, body: Any, token: str | None = None, status: int = 201) -> Any:
        return _ok(self.api.call("POST", path, body, headers=bearer(token or self.tenant.owner_token)), status)

    def add(self, kind: str, name: str, record_id: str, visible: bool) -> str:
        self.all.setdefault(kind, {})[name] = record_id
        self.visible.setdefault(kind, set())
        if visible:
            self.visible[kind].add(record_id)
        return record_id

    def ids(self, kind: str) -> set[str]:
        return set(self.all[kind].values())


def build(api: Api, tenant: Tenant) -> World:
    w = World(api, tenant)
    o, u, v = tenant.owner_id, w.u, w.v

    def contact(name: str, visible: bool, kind: str = "person", **fields: Any) -> str:
        body = (
            {"kind": "person", "first_name": name, "last_name": f"{TAG}son"}
            if kind == "person"
            else {"kind": "company", "company_name": f"{name} {TAG} GmbH"}
        )
        made = w.post("/v1/contacts", {**body, "tags": [TAG], **fields})
        return w.add("contact", name, made["id"], visible)

    # Contacts (CON-9): shared for reading, managed by U, private to V and to the owner.
    co_shared = contact("CoShared", True, kind="company", managers=[o], access="shared_read")
    co_private = contact("CoPrivate", False, kind="company", managers=[v], access="private")
    shared = contact("Shared", True, managers=[o], access="shared_read", company_id=co_private)
    contact("Writable", True, managers=[v], access="shared_write", company_id=co_shared)
    mine = contact("Mine", True, managers=[u], access="private")
    private = contact("Private", False, managers=[v], access="private", company_id=co_shared)
    contact("OwnersOnly", False, managers=[o], access="private", company_id=co_private)

    # Deals and cases (DEA-6, CAS-2): public, listed for U, private to V (U responsible: nothing).
    for kind, path in (("deal", "/v1/deals"), ("case", "/v1/cases")):
        for name, access, visible, extra in (
            ("public", [], True, {"contact_id": shared} if kind == "deal" else {}),
            ("listed", [u], True, {"contact_id": private} if kind == "deal" else {}),
            ("private", [v], False, {"responsible_id": u, "contact_id": shared} if kind == "deal" else {}),
        ):
            made = w.post(path, {"title": f"{TAG} {name}", "access_list": access, "tags": [TAG], **extra})
            w.add(kind, name, made["id"], visible)
    deal_private = w.all["deal"]["private"]
    deal_public = w.all["deal"]["public"]

    # Tasks (TSK): U responsible; linked to a contact U reads; linked to one U does not; V's own.
    for name, fields, visible in (
        ("responsible", {"responsible_id": u}, True),
        ("linked", {"responsible_id": v, "contact_id": shared}, True),
        ("linked_hidden", {"responsible_id": v, "contact_id": private}, False),
        ("deal_hidden", {"responsible_id": v, "deal_id": deal_private}, False),
        ("unlinked", {"responsible_id": v}, False),
        # U's own task about a contact U may not read: the task is U's; the contact stays hidden.
        ("mine_hidden_link", {"responsible_id": u, "contact_id": private}, True),
    ):
        made = w.post("/v1/tasks", {"title": f"{TAG} {name}", "due_at": DUE, **fields})
        w.add("task", name, made["id"], visible)

    # History (HIS-1) and files: readable exactly when the parent is.
    for name, parent, visible in (
        ("shared", ("contacts", shared), True),
        ("private", ("contacts", private), False),
        ("deal_public", ("deals", deal_public), True),
        ("deal_private", ("deals", deal_private), False),
    ):
        made = w.post(f"/v1/{parent[0]}/{parent[1]}/history", {"text": f"{TAG} note {name}"})
        w.add("history", name, made["id"], visible)
        upload = w.post(
            "/v1/files",
            {
                "filename": f"{name}.txt",
                "content_type": "text/plain",
                "size": 5,
                "parent": {"kind": parent[0].rstrip("s"), "id": parent[1]},
            },
        )
        w.add("file", name, upload["id"] if "id" in upload else upload["file"]["id"], visible)

    # Invoices (INV): readable by whoever reads the client.
    line = {"title": "Work", "quantity": "1", "price": "100"}
    invoices = (("shared", shared, True), ("mine", mine, True), ("private", private, False))
    for name, client, visible in invoices:
        # The readable invoice of Shared is for the private deal: the deal stays hidden.
        deal = {"deal_id": deal_private} if name == "shared" else {}
        made = w.post("/v1/invoices", {"client_id": client, "lines": [line], **deal})
        w.add("invoice", name, made["id"], visible)
        # Billed: the invoices report counts billed invoices only.
        billed = api.call(
            "PUT",
            f"/v1/invoices/{made['id']}/status",
            {"status": "billed"},
            headers=bearer(tenant.owner_token, **{"If-Match": f'"{made["version"]}"'}),
        )
        assert billed[0] == 200, billed[:2]

    # Calls (VOIP-8): seen by their participants; written by the Twilio hooks' store.
    from chalicelib.bootstrap import container
    from chalicelib.domain.voip.models import Call, CallDirection, CallStatus

    now = datetime.now(UTC)
    for n, (name, participants, visible) in enumerate((("u", [u], True), ("v", [v], False), ("both", [u, v], True))):
        call_id = f"01JMATRIXCALL0000000000{n:03d}"
        container().call_store.create(
            Call(
                id=call_id,
                tenant_id=tenant.id,
                call_sid=f"CA{n:032x}",
                direction=CallDirection.INCOMING,
                status=CallStatus.ANSWERED,
                external_number="+4930123456",
                operator_id=participants[0],
                participants=participants,
                started_at=now,
                created_at=now,
                updated_at=now,
            ),
            by=o,
        )
        w.add("call", name, call_id, visible)
    return w


# Where GET by id lives, per type.
GET_PATHS = {
    "contact": "/v1/contacts/{}",
    "deal": "/v1/deals/{}",
    "case": "/v1/cases/{}",
    "task": "/v1/tasks/{}",
    "history": "/v1/history/{}",
    "file": "/v1/files/{}/meta",
    "invoice": "/v1/invoices/{}",
    "call": "/v1/voip/calls/{}",
}


@pytest.mark.parametrize("role", ["user", "admin"])
def test_what_a_user_can_list_equals_what_they_can_get(api: Api, tenant: Tenant, run_queues: Any, role: str) -> None:
    """``user``: U, as above. ``admin``: an admin reads every record (TEN-5); the same paths must
    then reach all of them (a path that forgets some is as wrong as one that shows too many)."""
    w = build(api, tenant)
    if role == "admin":
        _, token = tenant.add_user("admin@acme.example", role="admin")
        w.visible = {kind: w.ids(kind) for kind in w.all}
    else:
        token = w.u_token
    mismatches: list[str] = []

    def of(kind: str, *wanted: str) -> set[str]:
        """The named records of a kind that the caller can read."""
        return {w.all[kind][name] for name in wanted} & gettable[kind]

    # Every answer U gets is kept: none may carry a hidden record's id or name (checked at the end).
    seen: list[tuple[str, str]] = []
    original = api.call

    def recording(method: str, path: str, body: Any = None, **options: Any) -> tuple[int, Any, dict[str, str]]:
        answer = original(method, path, body, **options)
        if (options.get("headers") or {}).get("Authorization") == f"Bearer {token}":
            text = answer[1].decode("utf-8", "replace") if isinstance(answer[1], bytes) else json.dumps(answer[1])
            seen.append((f"{method} {path}", text))
        return answer

    api.call = recording  # type: ignore[method-assign]

    def status(path: str) -> int:
        return api.call("GET", path, headers=bearer(token))[0]

    # GET by id: 200 or 404, nothing else; and what the policy says.
    gettable: dict[str, set[str]] = {}
    for kind, path in GET_PATHS.items():
        answers = {record_id: status(path.format(record_id)) for record_id in w.ids(kind)}
        assert set(answers.values()) <= {200, 404}, (kind, answers)
        gettable[kind] = {record_id for record_id, code in answers.items() if code == 200}
        assert gettable[kind] == w.visible[kind], (kind, "GET disagrees with the policy", answers)

    def same(label: str, kind: str, found: set[str], expected: set[str] | None = None) -> None:
        want = gettable[kind] if expected is None else expected
        if found != want:
            mismatches.append(f"{label}: extra {sorted(found - want)}, missing {sorted(want - found)}")

    def ids(path: str) -> set[str]:
        return {item["id"] for item in _all_pages(api, token, path)}

    names = {record_id: name for kind in w.all for name, record_id in w.all[kind].items()}
    contacts = gettable["contact"]

    # ---- contacts ----
    same("GET /v1/contacts", "contact", ids("/v1/contacts") & w.ids("contact"))
    same("contacts ?tag", "contact", ids(f"/v1/contacts?tag={TAG}"))
    same("contacts ?q (search)", "contact", ids(f"/v1/contacts?q={TAG}") & w.ids("contact"))
    same("contacts ?kind", "contact", ids("/v1/contacts?kind=person") | ids("/v1/contacts?kind=company"))
    same(
        "contacts ?manager_id",
        "contact",
        ids(f"/v1/contacts?manager_id={w.v}"),
        of("contact", "Writable", "Private", "CoPrivate"),
    )
    employer = {"Shared": "CoPrivate", "Writable": "CoShared", "Private": "CoShared", "OwnersOnly": "CoPrivate"}
    for company_name in ("CoShared", "CoPrivate"):
        company = w.all["contact"][company_name]
        staff = {w.all["contact"][p] for p, c in employer.items() if c == company_name} & contacts
        same(f"contacts ?company_id={company_name}", "contact", ids(f"/v1/contacts?company_id={company}"), staff)
        if company in contacts:
            same(f"persons of {company_name}", "contact", ids(f"/v1/contacts/{company}/persons"), staff)
        elif status(f"/v1/contacts/{company}/persons") != 404:
            mismatches.append(f"persons of the hidden {company_name}: not 404")
    # Counts: the tag counts of each entity count only what U can read.
    for kind in ("contact", "deal", "case"):
        answer = _ok(api.call("GET", f"/v1/tags?entity={kind}", headers=bearer(token)), 200)
        counts = {t["name"]: t.get("count") for t in answer["items"]}
        if counts.get(TAG) != len(gettable[kind]):
            mismatches.append(f"tag count of {kind}s: {counts.get(TAG)} for {len(gettable[kind])} readable")
    # A mailing's preview renders one contact: 404 for a hidden one.
    for contact_id in w.ids("contact"):
        preview = {"contact_id": contact_id, "subject": "Hi", "body": "Hello {{ first_name }}"}
        code = api.call("POST", "/v1/mailings/preview", preview, headers=bearer(token))[0]
        if code != (200 if contact_id in contacts else 404):
            mismatches.append(f"POST /v1/mailings/preview ({names[contact_id]}): {code}")

    # ---- deals and cases ----
    same("GET /v1/deals", "deal", ids("/v1/deals"))
    same("deals ?tag", "deal", ids(f"/v1/deals?tag={TAG}"))
    same("deals ?stage_status=open", "deal", ids("/v1/deals?stage_status=open"))
    same("deals ?responsible_id=U", "deal", ids(f"/v1/deals?responsible_id={w.u}"), of("deal", "private"))
    pipeline = _ok(api.call("GET", "/v1/deals/pipeline", headers=bearer(token)), 200)
    counted = sum(stage.get("count", 0) for stage in pipeline.get("stages", pipeline.get("items", [])))
    if counted != len(gettable["deal"]):
        mismatches.append(f"pipeline counts {counted} deals for {len(gettable['deal'])} readable: {pipeline}")
    same("GET /v1/cases", "case", ids("/v1/cases"))
    same("cases ?tag", "case", ids(f"/v1/cases?tag={TAG}"))
    same("cases ?closed=false", "case", ids("/v1/cases?closed=false"))
    for contact_id in w.ids("contact"):
        label = names[contact_id]
        deals = of("deal", *{"Shared": ("public", "private"), "Private": ("listed",)}.get(label, ()))
        same(f"deals ?contact_id={label}", "deal", ids(f"/v1/deals?contact_id={contact_id}"), deals)
        same(f"cases ?contact_id={label}", "case", ids(f"/v1/cases?contact_id={contact_id}"), set())
    for deal_id in w.ids("deal"):
        linked = {w.all["task"]["deal_hidden"]} & gettable["task"] if deal_id == w.all["deal"]["private"] else set()
        same(f"tasks ?deal_id={names[deal_id]}", "task", ids(f"/v1/tasks?deal_id={deal_id}"), linked)

    # ---- tasks ----
    same("GET /v1/tasks", "task", ids("/v1/tasks"))
    same("tasks ?status=open", "task", ids("/v1/tasks?status=open"))
    same(
        "tasks ?responsible_id=V",
        "task",
        ids(f"/v1/tasks?responsible_id={w.v}"),
        of("task", "linked", "linked_hidden", "deal_hidden", "unlinked"),
    )
    for contact_id in w.ids("contact"):
        linked = of(
            "task",
            *{"Shared": ("linked",), "Private": ("linked_hidden", "mine_hidden_link")}.get(names[contact_id], ()),
        )
        same(f"tasks ?contact_id={names[contact_id]}", "task", ids(f"/v1/tasks?contact_id={contact_id}"), linked)

    # ---- history and files: the union over every parent's list ----
    parents = [("contacts", c) for c in w.ids("contact")] + [("deals", d) for d in w.ids("deal")]
    parents += [("cases", c) for c in w.ids("case")]
    listed_history: set[str] = set()
    listed_files: set[str] = set()
    for collection, parent in parents:
        readable = parent in gettable[{"contacts": "contact", "deals": "deal", "cases": "case"}[collection]]
        for sub, bucket in (("history", listed_history), ("files", listed_files)):
            code = status(f"/v1/{collection}/{parent}/{sub}")
            if code != (200 if readable else 404):
                mismatches.append(f"/v1/{collection}/{names[parent]}/{sub}: {code}")
            elif readable:
                found = ids(f"/v1/{collection}/{parent}/{sub}")
                bucket |= found & (w.ids("history") | w.ids("file"))
    same("history lists", "history", listed_history & w.ids("history"))
    same("files lists", "file", listed_files & w.ids("file"))

    # ---- invoices ----
    same("GET /v1/invoices", "invoice", ids("/v1/invoices"))
    for contact_id in w.ids("contact"):
        billed = {i for i in gettable["invoice"] if names[i] == names[contact_id].lower()}
        if contact_id in contacts:
            same(
                f"/v1/contacts/{names[contact_id]}/invoices",
                "invoice",
                ids(f"/v1/contacts/{contact_id}/invoices"),
                billed,
            )
        same(
            f"invoices ?client_id={names[contact_id]}",
            "invoice",
            ids(f"/v1/invoices?client_id={contact_id}"),
            billed if contact_id in contacts else set(),
        )

    # ---- calls ----
    same("GET /v1/voip/calls", "call", ids("/v1/voip/calls"))
    same("calls ?operator_id=V", "call", ids(f"/v1/voip/calls?operator_id={w.v}"), of("call", "v", "both"))

    # ---- the change log of every record: 200 exactly for the readable ones ----
    collections = {"contact": "contacts", "deal": "deals", "case": "cases", "task": "tasks", "invoice": "invoices"}
    for kind, collection in collections.items():
        for record_id in w.ids(kind):
            code = status(f"/v1/{collection}/{record_id}/changes")
            if code != (200 if record_id in gettable[kind] else 404):
                mismatches.append(f"/v1/{collection}/{names[record_id]}/changes: {code}")
            # The log of any record (deleted ones too) is for admins: to users the same 403 whatever the record.
            code = status(f"/v1/changes?entity={kind}&record_id={record_id}")
            if code != (200 if role == "admin" else 403):
                mismatches.append(f"/v1/changes {kind} {names[record_id]}: {code}")

    # ---- GDPR export and erase: admins only, and a hidden contact is 404, never 403 ----
    for contact_id in w.ids("contact"):
        want = (202 if role == "admin" else 403) if contact_id in contacts else 404
        # (An admin's erasure would erase: the admin exports only.)
        for method, path in (
            ("GET", f"/v1/contacts/{contact_id}/export"),
            ("POST", f"/v1/contacts/{contact_id}/erase"),
        )[: 1 if role == "admin" else 2]:
            code = api.call(method, path, headers=bearer(token))[0]
            if code != want:
                mismatches.append(f"{method} {path} ({names[contact_id]}): {code}, expected {want}")

    # ---- U's inbox (being made responsible for a private deal, say) names nothing hidden: see the end ----
    _all_pages(api, token, "/v1/notifications")

    # ---- webhooks: admins only (an integration's, not a user's); U is refused, sees nothing ----
    assert api.call("GET", "/v1/webhooks", headers=bearer(token))[0] == (200 if role == "admin" else 403)

    # ---- every GET route of the registry that takes one record of these types: a hidden one is 404 ----
    from tests.api.test_isolation_registry import registered

    param_kind = {
        "contact_id": "contact",
        "deal_id": "deal",
        "case_id": "case",
        "task_id": "task",
        "event_id": "history",
        "file_id": "file",
        "invoice_id": "invoice",
        "call_id": "call",
    }
    reached = 0
    for path, method, _ in registered():
        params = re.findall(r"{([^}]+)}", path)
        if method != "GET" or len(params) != 1 or params[0] not in param_kind:
            continue
        kind = param_kind[params[0]]
        for record_id in w.ids(kind):
            code = status(path.replace("{" + params[0] + "}", record_id))
            readable = record_id in gettable[kind]
            # A readable record may still lack what the route serves (no photo, no recording): 404 then.
            if (not readable and code != 404) or (readable and code in (401, 403) and "/export" not in path):
                mismatches.append(f"GET {path} ({names[record_id]}): {code}")
            reached += 1
    assert reached > 50, reached

    # ---- reports: U's workbooks count only what U can read (their "counted" sheets list the ids) ----
    for report, kind in (
        ("contacts_by_manager", "contact"),
        ("deals_by_manager", "deal"),
        ("tasks_by_manager", "task"),
        ("invoices_by_manager", "invoice"),
        ("calls_by_operator", "call"),
    ):
        made = _ok(
            api.call(
                "POST", "/v1/reports", {"type": report, "period": {"preset": "this_month"}}, headers=bearer(token)
            ),
            202,
        )
        assert run_queues()["failures"] == []
        book = report_file(api, token, made["id"])[1]
        seen.extend((f"report {report}", str(row)) for sheet in book for row in sheet.iter_rows(values_only=True))
        counted = [name for name in book.sheetnames if name.endswith("counted")]
        if counted:
            rows = list(book[counted[0]].iter_rows(values_only=True))
            column = next(i for i, title in enumerate(rows[0]) if str(title).endswith(" id"))
            same(f"report {report}", kind, {row[column] for row in rows[1:]} & w.ids(kind))
        else:  # calls: per operator only; the total row counts them
            rows = list(book[book.sheetnames[1]].iter_rows(values_only=True))
            total = next(row for row in rows if row[0] == "Total")
            if total[rows[0].index("Total")] != len(gettable[kind]):
                mismatches.append(f"report {report}: total {total} for {len(gettable[kind])} readable")

    # ---- the user's own export: the CSVs hold exactly what U can get ----
    job = export(api, bearer(token), run_queues, entities=["contacts", "deals", "tasks", "cases"])
    assert job["status"] == "done", job
    archive = download_zip(job)
    seen.extend((f"export {name}", archive.read(name).decode("utf-8-sig")) for name in archive.namelist())
    for kind, name in (
        ("contact", "contacts.csv"),
        ("deal", "deals.csv"),
        ("task", "tasks.csv"),
        ("case", "cases.csv"),
    ):
        same(f"export {name}", kind, {row["ID"] for row in read_csv(archive, name)} & w.ids(kind))

    # ---- every write route of the registry on one hidden record: 404 (a 403 would tell it exists) ----
    from tests.api.test_isolation_registry import BODIES, _png

    written = 0
    for path, method, op in registered():
        params = re.findall(r"{([^}]+)}", path)
        if method == "GET" or len(params) != 1 or params[0] not in param_kind:
            continue
        kind = param_kind[params[0]]
        for record_id in w.ids(kind) - gettable[kind]:
            target = path.replace("{" + params[0] + "}", record_id)
            headers = bearer(token, **({"If-Match": '"1"'} if op.if_match else {}))
            if op.body is None and "image/png" in op.content_types:
                response = api.client.http.put(target, body=_png(), headers={**headers, "content-type": "image/png"})
                code = response.status_code
            else:
                body = BODIES.get(op.body.__name__) if op.body is not None else None
                code = api.call(method, target, body, headers=headers)[0]
            if code != 404:
                mismatches.append(f"{method} {path} ({names[record_id]}, hidden): {code}")
            written += 1
    assert written > 20 or role == "admin", written

    # Hidden records: neither their ids nor their names. Some are linked from readable records, and
    # those link fields belong to the readable record: the private deal (an invoice's deal_id) and
    # the contact Private (the listed deal's and U's own task's contact_id) by id only; the company
    # CoPrivate of the readable person Shared by id and name (a person carries company_id and
    # company_name as its own fields, kept in step with the company).
    linked_from_readable = {w.all["contact"]["Private"], w.all["contact"]["CoPrivate"], w.all["deal"]["private"]}
    hidden_ids = {i for kind in w.all for i in w.ids(kind) - gettable[kind]} - linked_from_readable
    hidden_names = [r"\bPrivate Matrixson", r"Matrixson, Private", "OwnersOnly", "Matrix private", "Matrix unlinked"]
    hidden_names += ["Matrix linked_hidden", "Matrix deal_hidden", "note private", "note deal_private"]
    if role == "admin":  # nothing is hidden from an admin
        hidden_names = []
    for request, answer in seen:
        for found in sorted({i for i in hidden_ids if i in answer} | {n for n in hidden_names if re.search(n, answer)}):
            mismatches.append(f"{request}: the answer names the hidden {names.get(found, found)} {answer[:300]}")
    assert not mismatches, "\n".join(mismatches)
