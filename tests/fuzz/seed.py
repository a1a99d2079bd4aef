"""Records for the fuzzer to find (tests/fuzz/run.py, before schemathesis).

A fresh demo tenant has nothing to get, change or delete: every `{id}` the
fuzzer makes up answers 404 and the code behind it is never reached.
Schemathesis reads the ids in the answers it gets (lists included) and puts
them into later requests' path parameters, so one record of each kind here
opens the routes under it. The bodies follow /work/shared/API.md's record
shapes; a refused one stops the run (the API changed under the fuzzer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.test_local_stack import http_json

# (name, path, body from the ids made so far); "{name}" in a path is the id of an earlier record.
Seed = tuple[str, str, Callable[[dict[str, str]], dict[str, Any]]]

SEEDS: list[Seed] = [
    ("company", "/v1/contacts", lambda ids: {"kind": "company", "company_name": "Müller GmbH", "tags": ["Lead"]}),
    (
        "person",
        "/v1/contacts",
        lambda ids: {
            "kind": "person",
            "first_name": "Anna",
            "last_name": "Müller",
            "company_id": ids["company"],
            "tags": ["Lead"],
            "details": [{"type": "email", "category": "work", "value": "anna@example.de", "primary": True}],
        },
    ),
    ("deal", "/v1/deals", lambda ids: {"title": "ERP rollout", "contact_id": ids["company"], "amount": "12000.00"}),
    (
        "task",
        "/v1/tasks",
        lambda ids: {"title": "Call back", "contact_id": ids["person"], "due_at": "2030-12-01T15:00:00+01:00"},
    ),
    ("case", "/v1/cases", lambda ids: {"title": "Partner summit", "tags": ["Lead"]}),
    ("history", "/v1/contacts/{person}/history", lambda ids: {"text": "Met at the fair"}),
    ("tax", "/v1/taxes", lambda ids: {"name": "USt 19 %", "rate": "19"}),
    ("product", "/v1/products", lambda ids: {"title": "Consulting", "price": "100.00", "currency": "EUR"}),
    (
        "invoice",
        "/v1/invoices",
        lambda ids: {
            "client_id": ids["company"],
            "lines": [{"title": "Consulting", "quantity": "3", "price": "19.99", "tax_ids": [ids["tax"]]}],
        },
    ),
    ("group", "/v1/groups", lambda ids: {"name": "Sales"}),
    (
        "user",
        "/v1/users",
        lambda ids: {"email": "user@demo.local", "name": "User", "role": "user", "password": "user-password-1"},
    ),
    ("token", "/v1/tokens", lambda ids: {"name": "fuzz"}),
    ("webhook", "/v1/webhooks", lambda ids: {"url": "https://93.184.216.34/hook", "events": ["contact.created"]}),
    ("temperature", "/v1/settings/temperatures", lambda ids: {"name": "Lukewarm", "color": "#e06666"}),
]


def seed(api: str, token: str) -> dict[str, str]:
    """Makes each record once; the ids by name."""
    ids: dict[str, str] = {}
    for name, path, body in SEEDS:
        status, answer = http_json("POST", api + path.format(**ids), body(ids), token=token)
        if status != 201:
            raise RuntimeError(f"seeding {name}: POST {path} answered {status}: {answer}")
        ids[name] = answer["id"]
    return ids
