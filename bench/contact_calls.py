"""DynamoDB calls per contacts request (issue 4 "Performance").

    python bench/contact_calls.py [--contacts 300]

Under moto (in-process ``mock_aws``, resources from the shared table spec) it
creates a tenant with the admin command, logs in through
``chalice.test.Client``, seeds contacts through the API (persons and
companies, tags, e-mails and phones; a third private to another manager, a
third private to the owner, the rest shared for reading), then counts the
DynamoDB calls (by operation) that each contacts request makes, with
``bench/dynamo_calls.count_calls``.

The table shows each request's calls next to its floor, the fewest calls the
design allows (without authentication):
- read one contact: 1 GetItem;
- a list page: at most 2 (one Query on the best index partition, one
  BatchGetItem for the contacts); a caller who may see little of a large
  partition may need more Query pages (at most 8, then the page ends early);
- create / update: 1 TransactWriteItems plus the reads the rules need (the
  contact before an update, for its version and access; the tag registry
  when tags are sent, to keep existing tags' spelling).
Authentication is counted apart: every authenticated request first costs it
(tenant, user and token in one BatchGetItem). Nothing here asserts; the
counts are deterministic (same data, same calls), so one run of each is it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# Like tests/conftest.py: a test stage against moto, never real AWS.
BENCH_ENV = {
    "CRM_STAGE": "test",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "CRM_TABLE_NAME": "crm-bench",
    "CRM_BUCKET_NAME": "crm-bench-files",
    "CRM_QUEUE_PREFIX": "crm-",
    "CRM_CURSOR_SECRET": "bench-cursor-secret",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
TAGS = ["Lead", "Customer", "Partner", "VIP", "Newsletter", "Supplier", "Press", "Event 2026"]
FIRST = ["Anna", "Bernd", "Clara", "David", "Eva", "Felix", "Greta", "Hans", "Ida", "Jonas", "Karla", "Lukas"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schulz"]
PASSWORD = "bench-password-1"


class Api:
    def __init__(self, client: Any):
        self.client = client

    def call(
        self, method: str, path: str, token: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        response = getattr(self.client.http, method.lower())(
            path,
            body=json.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}", **(headers or {})},
        )
        return response.status_code, json.loads(response.body) if response.body else None

    def login(self, email: str, password: str) -> str:
        response = self.client.http.post(
            "/v1/auth/login",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"email": email, "password": password}),
        )
        assert response.status_code == 200, response.body
        return json.loads(response.body)["token"]


def contact_body(i: int, rng: random.Random, access: str) -> dict[str, Any]:
    tags = rng.sample(TAGS, rng.randint(0, 3))
    details = [
        {"type": "email", "value": f"contact{i}@example{i % 7}.de"},
        {"type": "phone", "value": f"+49 30 {1000000 + i}"},
    ]
    if i % 4 == 0:
        return {
            "kind": "company",
            "company_name": f"{rng.choice(LAST)} {rng.choice(['GmbH', 'AG', 'KG'])} {i}",
            "tags": tags,
            "access": access,
            "details": details,
        }
    return {
        "kind": "person",
        "first_name": rng.choice(FIRST),
        "last_name": f"{rng.choice(LAST)}",
        "tags": tags,
        "access": access,
        "details": details,
    }


@contextlib.contextmanager
def writes_one_by_one() -> Iterator[None]:
    """Seeding only: moto (5.2) deep-copies the whole table for every item of a
    TransactWriteItems, so seeding hundreds of contacts through transactions
    is quadratic (minutes, gigabytes). While seeding, a transaction's
    operations are written one by one instead: the same items land in the
    table as through the real path. The measured requests use the real one."""
    from chalicelib.storage.dynamo import table as table_module

    original = table_module.Table.transact

    def transact(self: Any, operations: Any) -> None:
        for op in operations:
            if isinstance(op, table_module.Put):
                self._client.put_item(TableName=self.name, **table_module._put_params(op))
            elif isinstance(op, table_module.Update):
                self._client.update_item(TableName=self.name, **table_module._update_params(op))
            elif isinstance(op, table_module.Delete):
                self._client.delete_item(TableName=self.name, **table_module._delete_params(op))

    table_module.Table.transact = transact  # type: ignore[method-assign]
    try:
        yield
    finally:
        table_module.Table.transact = original  # type: ignore[method-assign]


def seed(api: Api, owner: str, manager: str, count: int) -> list[dict[str, Any]]:
    """A third private to the other manager, a third private to the owner, the rest shared for reading."""
    rng = random.Random(4)
    created = []
    with writes_one_by_one():
        for i in range(count):
            token, access = (
                (manager, "private") if i % 3 == 0 else (owner, "private") if i % 3 == 1 else (owner, "shared_read")
            )
            status, body = api.call("POST", "/v1/contacts", token, contact_body(i, rng, access))
            assert status == 201, body
            created.append(body)
    return created


def measure(
    api: Api,
    count_calls: Any,
    method: str,
    path: str,
    token: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[Counter[str], int, Any]:
    with count_calls() as recorded:
        status, answer = api.call(method, path, token, body, headers)
    assert status < 300, (method, path, status, answer)
    return recorded.by_operation(), status, answer


def run(contacts: int) -> str:
    os.environ.update(BENCH_ENV)
    os.environ.pop("CRM_AWS_ENDPOINT_URL", None)
    sys.path[:0] = [str(HERE.parent), str(HERE)]

    from chalice.test import Client
    from dynamo_calls import count_calls
    from moto import mock_aws

    import app
    from chalicelib import bootstrap
    from chalicelib.bootstrap import container
    from chalicelib.cli import create_tenant
    from chalicelib.config import reset_settings
    from chalicelib.storage.contacts.store import ContactStore
    from chalicelib.storage.dynamo.aws import reset_clients
    from chalicelib.storage.dynamo.provision import create_resources

    reset_settings()
    reset_clients()
    bootstrap.reset()
    with mock_aws():
        create_resources()
        tenant_id = create_tenant("Bench GmbH", "owner@bench.example", owner_password=PASSWORD)["tenant_id"]
        with Client(app.app) as client:
            api = Api(client)
            owner = api.login("owner@bench.example", PASSWORD)
            for email in ("manager@bench.example", "viewer@bench.example"):
                status, body = api.call(
                    "POST",
                    "/v1/users",
                    owner,
                    {"email": email, "name": email.split("@")[0], "role": "user", "password": PASSWORD},
                )
                assert status == 201, body
            manager = api.login("manager@bench.example", PASSWORD)
            viewer = api.login("viewer@bench.example", PASSWORD)
            seeded = seed(api, owner, manager, contacts)
            visible_to_viewer = sum(1 for c in seeded if c["access"] != "private")

            with count_calls() as auth_calls:
                container().auth.authenticate(f"Bearer {owner}")
            auth = auth_calls.by_operation()

            sample = next(c for c in seeded if c["kind"] == "person" and c["tags"])
            person = {
                "kind": "person",
                "first_name": "Zoe",
                "last_name": "Neumann",
                "tags": ["Lead", "Brand new"],
                "details": [{"type": "email", "value": "zoe@neumann.de"}, {"type": "phone", "value": "+49 40 5550100"}],
            }
            rows: list[tuple[str, Counter[str], int, str, str]] = []

            def row(
                label: str,
                method: str,
                path: str,
                token: str,
                floor: int,
                wording: str,
                body: Any = None,
                headers: dict[str, str] | None = None,
            ) -> Any:
                calls, _, answer = measure(api, count_calls, method, path, token, body, headers)
                items = len(answer["items"]) if isinstance(answer, dict) and "items" in answer else None
                rows.append((label + (f" [{items} items]" if items is not None else ""), calls, floor, wording, path))
                return answer

            created = row(
                "POST /v1/contacts (2 tags, e-mail, phone)",
                "POST",
                "/v1/contacts",
                owner,
                2,
                "tx + tag registry",
                person,
            )
            row("GET /v1/contacts/{id}", "GET", f"/v1/contacts/{sample['id']}", owner, 1, "1 get")
            row(
                "PATCH /v1/contacts/{id} (description)",
                "PATCH",
                f"/v1/contacts/{created['id']}",
                owner,
                2,
                "get + tx",
                {"description": "Met at the fair"},
                {"If-Match": f'"{created["version"]}"'},
            )
            row(
                "PATCH /v1/contacts/{id} (tags)",
                "PATCH",
                f"/v1/contacts/{created['id']}",
                owner,
                3,
                "get + registry + tx",
                {"tags": ["Customer"]},
                {"If-Match": f'"{created["version"] + 1}"'},
            )
            row("GET /v1/contacts (page of 50)", "GET", "/v1/contacts?limit=50", owner, 2, "query + batch")
            row("GET /v1/contacts?tag=Lead", "GET", "/v1/contacts?tag=Lead", owner, 2, "query + batch")
            row("GET /v1/contacts?q=mül (name prefix)", "GET", "/v1/contacts?q=m%C3%BCl", owner, 2, "query + batch")
            row(
                "GET /v1/contacts?q=030 1000042 (phone)",
                "GET",
                "/v1/contacts?q=030%201000042",
                owner,
                2,
                "query + batch",
            )
            row(
                f"GET /v1/contacts as a user ({visible_to_viewer}/{len(seeded) + 1} visible)",
                "GET",
                "/v1/contacts?limit=50",
                viewer,
                2,
                "query + batch; more query pages when most is hidden",
            )
            row("GET /v1/contacts?tag=Lead as a user", "GET", "/v1/contacts?tag=Lead", viewer, 2, "query + batch")
            tag_count = len(ContactStore().tag_names(tenant_id))
            tags = row(
                f"GET /v1/tags ({tag_count} tags)",
                "GET",
                "/v1/tags?entity=contact",
                owner,
                1 + tag_count,
                "registry + 1 query per tag",
            )
            # SET-12 on a tag one contact holds: fixed reads and writes plus the contact's update.
            status, body = api.call("POST", "/v1/contacts", owner, {**person, "tags": ["Rare one"]})
            assert status == 201, body
            row(
                "PATCH /v1/tags/contact/Rare%20one (1 contact)",
                "PATCH",
                "/v1/tags/contact/Rare%20one",
                owner,
                6 + 1,
                "registry, holders query + batch, put, delete, count + 1 tx per contact",
                {"name": "Fresh"},
            )

    return report(rows, auth, contacts, tags)


def report(rows: list[tuple[str, Counter[str], int, str, str]], auth: Counter[str], contacts: int, tags: Any) -> str:
    auth_total = sum(auth.values())
    operations = sorted({op for _, calls, *_ in rows for op in calls} | set(auth))
    width = max(len(label) for label, *_ in rows)
    header = (
        f"{'request':<{width}}  {'total':>5}"
        + "".join(f"  {op:>{len(op)}}" for op in operations)
        + f"  {'w/o auth':>8}  {'floor':>5}  verdict"
    )
    lines = [
        f"DynamoDB calls per request, {contacts} seeded contacts (moto, in-process)",
        "",
        header,
        "-" * len(header),
    ]
    for label, calls, floor, wording, _ in rows:
        total = sum(calls.values())
        without = total - auth_total
        verdict = "at floor" if without <= floor else f"+{without - floor} over"
        lines.append(
            f"{label:<{width}}  {total:>5}"
            + "".join(f"  {calls.get(op, 0):>{len(op)}}" for op in operations)
            + f"  {without:>8}  {floor:>5}  {verdict} ({wording})"
        )
    lines += [
        "",
        "authentication (in every row above): "
        + ", ".join(f"{n} {op}" for op, n in sorted(auth.items()))
        + " (tenant + user + token)",
    ]
    if tags:
        lines.append(
            f"GET /v1/tags answered {len(tags['items'])} tags: its floor grows by one Query per tag on "
            "the page (counts are per caller, read from the tag's index partition)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=300, help="contacts to seed (default 300)")
    args = parser.parse_args(argv)
    print(run(args.contacts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
