"""DynamoDB calls per deals request (issue 6).

    python bench/deal_calls.py [--deals 200]

Under moto (in-process ``mock_aws``), like bench/contact_calls.py: a tenant,
an owner and a user, a few contacts, then ``--deals`` deals seeded through the
API (a third private to the owner, the rest public, in four currencies, spread
over the stages), then the DynamoDB calls (by operation) of each deals
request, counted with ``bench/dynamo_calls.count_calls``.

Floors (without authentication):
- create: reads the rules need (the stages list, the money settings for the
  default currency, the tag registry when tags are sent, each linked contact
  through parents.resolve) + 1 TransactWriteItems (deal, index entries, tag
  registry, change log, stage and custom-field counters, pipeline aggregates);
- get: 1 GetItem;
- list page: 1 Query on the best facet + 1 BatchGetItem (more Query pages
  only when most of a facet is hidden from the caller);
- stage change: get the deal, get the new stage, get the old stage (for the
  history text) + 1 TransactWriteItems (deal, entries, counters, aggregates,
  history event, change log);
- pipeline: stages Query + money settings GetItem + aggregates Query (+ the
  caller's private-deal facet Query for a user who is not an admin) —
  independent of the number of deals.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from contact_calls import BENCH_ENV, PASSWORD, Api, measure, report, writes_one_by_one  # noqa: E402

CURRENCIES = ["EUR", "USD", "GBP", "CHF"]


def run(deals: int) -> str:
    os.environ.update({**BENCH_ENV, "CRM_TABLE_NAME": "crm-bench-deals"})
    os.environ.pop("CRM_AWS_ENDPOINT_URL", None)

    from chalice.test import Client
    from dynamo_calls import count_calls
    from moto import mock_aws

    import app
    from chalicelib import bootstrap
    from chalicelib.bootstrap import container
    from chalicelib.cli import create_tenant
    from chalicelib.config import reset_settings
    from chalicelib.storage.dynamo.aws import reset_clients
    from chalicelib.storage.dynamo.provision import create_resources

    reset_settings()
    reset_clients()
    bootstrap.reset()
    with mock_aws():
        create_resources()
        create_tenant("Bench GmbH", "owner@bench.example", owner_password=PASSWORD)
        with Client(app.app) as client:
            api = Api(client)
            owner = api.login("owner@bench.example", PASSWORD)
            status, body = api.call(
                "POST",
                "/v1/users",
                owner,
                {"email": "user@bench.example", "name": "user", "role": "user", "password": PASSWORD},
            )
            assert status == 201, body
            user = api.login("user@bench.example", PASSWORD)
            status, body = api.call(
                "PUT",
                "/v1/exchange-rates",
                owner,
                {"rates": [{"from": c, "to": "EUR", "rate": "0.9"} for c in CURRENCIES[1:]]},
            )
            assert status == 200, body
            status, listed = api.call("GET", "/v1/settings/deal-stages", owner)
            stage_ids = [s["id"] for s in (listed["items"] if isinstance(listed, dict) else listed)]
            status, anna = api.call(
                "POST",
                "/v1/contacts",
                owner,
                {"kind": "person", "first_name": "Anna", "last_name": "Bench", "access": "shared_read"},
            )
            assert status == 201, anna
            with writes_one_by_one():
                for i in range(deals):
                    body = {
                        "title": f"Deal {i}",
                        "amount": f"{100 + i}.50",
                        "currency": CURRENCIES[i % 4],
                        "stage_id": stage_ids[i % len(stage_ids)],
                        "tags": ["Bench"] if i % 2 else [],
                        "contact_id": anna["id"] if i % 5 == 0 else None,
                        "access_list": [] if i % 3 else [api_owner_id(api, owner)],
                    }
                    status, created = api.call("POST", "/v1/deals", owner, body)
                    assert status == 201, created

            with count_calls() as auth_calls:
                container().auth.authenticate(f"Bearer {owner}")
            auth = auth_calls.by_operation()
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

            deal = row(
                "POST /v1/deals (defaults)",
                "POST",
                "/v1/deals",
                owner,
                3,
                "stages + money settings + tx",
                {"title": "New", "amount": "10"},
            )
            row(
                "POST /v1/deals (contact, tag, stage)",
                "POST",
                "/v1/deals",
                owner,
                5,
                "stage + money + registry + contact + tx",
                {"title": "New", "amount": "10", "stage_id": stage_ids[3], "tags": ["Bench"], "contact_id": anna["id"]},
            )
            row("GET /v1/deals/{id}", "GET", f"/v1/deals/{deal['id']}", owner, 1, "1 get")
            row(
                "PATCH /v1/deals/{id} (amount)",
                "PATCH",
                f"/v1/deals/{deal['id']}",
                owner,
                2,
                "get + tx",
                {"amount": "20"},
                {"If-Match": '"1"'},
            )
            row(
                "PUT /v1/deals/{id}/stage",
                "PUT",
                f"/v1/deals/{deal['id']}/stage",
                owner,
                4,
                "get + new stage + old stage + tx",
                {"stage_id": stage_ids[-2]},
                {"If-Match": '"2"'},
            )
            row("GET /v1/deals (page of 50)", "GET", "/v1/deals?limit=50", owner, 2, "query + batch")
            row("GET /v1/deals as a user", "GET", "/v1/deals?limit=50", user, 2, "query + batch")
            row("GET /v1/deals?contact_id=", "GET", f"/v1/deals?contact_id={anna['id']}", owner, 2, "query + batch")
            row(
                "GET /v1/deals?stage_status=open&tag=Bench",
                "GET",
                "/v1/deals?stage_status=open&tag=Bench",
                owner,
                2,
                "query + batch",
            )
            row(
                "GET /v1/deals?close_from=2020-01-01",
                "GET",
                "/v1/deals?close_from=2020-01-01",
                owner,
                2,
                "query (+ batch)",
            )
            row("GET /v1/deals/pipeline (admin)", "GET", "/v1/deals/pipeline", owner, 3, "stages + money + aggregates")
            row(
                "GET /v1/deals/pipeline (user)",
                "GET",
                "/v1/deals/pipeline",
                user,
                4,
                "stages + money + aggregates + own private facet",
            )
    return report(rows, auth, deals, None).replace("seeded contacts", "seeded deals")


_OWNER_ID: dict[str, str] = {}


def api_owner_id(api: Api, token: str) -> str:
    if token not in _OWNER_ID:
        status, me = api.call("GET", "/v1/me", token)
        _OWNER_ID[token] = (me.get("user") or me)["id"]
    return _OWNER_ID[token]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=200, help="deals to seed (default 200)")
    args = parser.parse_args(argv)
    print(run(args.deals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
