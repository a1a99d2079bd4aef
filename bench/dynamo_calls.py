"""Count the DynamoDB calls a piece of code makes.

    from dynamo_calls import count_calls

    with count_calls() as recorded:
        client.http.get("/health")
    print(recorded.calls)            # ['GetItem']
    print(recorded.by_operation())   # Counter({'GetItem': 1})

The hook is a botocore ``before-call.dynamodb`` handler on the client that
``chalicelib.storage.dynamo.aws.client("dynamodb")`` returns (cached per container),
registered on entry and removed on exit. It fires once per API call, not per
retry; paginators and waiters count one call per page or poll. Do not call
``reset_clients()`` inside the block: a new client would not carry the hook.

Run it to see the calls that GET /health makes, under moto:

    python bench/dynamo_calls.py
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_EVENT = "before-call.dynamodb"
_ids = itertools.count()


@dataclass
class DynamoCalls:
    """Operation names (``GetItem``, ``Query``, ...) in the order they were made."""

    calls: list[str] = field(default_factory=list)

    def by_operation(self) -> Counter[str]:
        return Counter(self.calls)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)


@contextlib.contextmanager
def count_calls(dynamodb: Any = None) -> Iterator[DynamoCalls]:
    """Record every DynamoDB operation made through ``dynamodb`` (default: the
    app's cached client) while the block runs."""
    if dynamodb is None:
        from chalicelib.storage.dynamo.aws import client

        dynamodb = client("dynamodb")
    recorded = DynamoCalls()
    unique_id = f"bench-dynamo-calls-{next(_ids)}"
    dynamodb.meta.events.register(_EVENT, recorded._record, unique_id=unique_id)
    try:
        yield recorded
    finally:
        dynamodb.meta.events.unregister(_EVENT, unique_id=unique_id)


def format_table(rows: Mapping[str, DynamoCalls]) -> str:
    """A "DynamoDB calls per request" table: one row per request, one column per operation."""
    operations = sorted({op for recorded in rows.values() for op in recorded.calls})
    width = max([len("request"), *(len(name) for name in rows)])
    header = f"{'request':<{width}}  {'total':>5}" + "".join(f"  {op:>{len(op)}}" for op in operations)
    lines = [header, "-" * len(header)]
    for name, recorded in rows.items():
        counts = recorded.by_operation()
        lines.append(
            f"{name:<{width}}  {len(recorded.calls):>5}"
            + "".join(f"  {counts.get(op, 0):>{len(op)}}" for op in operations)
        )
    return "\n".join(lines)


def _demo() -> None:
    import os
    import sys
    from pathlib import Path

    # Before any app import: a test stage against moto, never real AWS.
    os.environ.update(
        {
            "CRM_STAGE": "test",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("CRM_AWS_ENDPOINT_URL", None)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    from chalice.test import Client
    from moto import mock_aws

    import app
    from chalicelib.config import reset_settings
    from chalicelib.storage.dynamo.aws import reset_clients
    from chalicelib.storage.dynamo.provision import create_resources

    reset_settings()
    reset_clients()
    with mock_aws():
        create_resources()
        with Client(app.app) as test_client, count_calls() as recorded:
            response = test_client.http.get("/health")
    print(f"GET /health -> {response.status_code}")
    print(format_table({"GET /health": recorded}))


if __name__ == "__main__":
    _demo()
