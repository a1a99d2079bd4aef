"""How many DynamoDB items one reminder sweep reads (TSK-4).

Seeds a moto table with 100,000 armed reminders (BatchWriteItem of the very
items ``storage.reminders.arm_op`` writes): 100 fall due in the last few
minutes, the other 99,900 are spread over future minute buckets (the next
30 days). Then it runs one sweep through the real wiring
(``container().reminders``, the job queue on moto SQS) and prints the items
the sweep's Queries read (``Count`` / ``ScannedCount`` of each response, from
a botocore ``after-call.dynamodb`` hook) and the calls it made. The goal: the
sweep reads about the 100 due reminders, not the 100,000.

    python bench/reminder_reads.py [total] [due]
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def main(total: int = 100_000, due: int = 100) -> dict[str, Any]:
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

    from moto import mock_aws

    from chalicelib import bootstrap
    from chalicelib.bootstrap import container
    from chalicelib.config import get_settings, reset_settings
    from chalicelib.domain.tasks.reminders import ArmedReminder
    from chalicelib.storage.dynamo.aws import client, reset_clients
    from chalicelib.storage.dynamo.provision import create_resources
    from chalicelib.storage.dynamo.table import serialize
    from chalicelib.storage.tasks.reminders import arm_op

    reset_settings()
    reset_clients()
    bootstrap.reset()
    now = datetime(2026, 11, 27, 10, 0, 30, tzinfo=UTC)
    with mock_aws():
        create_resources()
        dynamodb, table = client("dynamodb"), get_settings().table_name
        started = time.monotonic()
        items = []
        for n in range(total):
            if n < due:
                at = now - timedelta(seconds=5 + (n * 173) % 240)  # due in the last ~4 minutes
            else:
                at = now + timedelta(minutes=1 + n % (30 * 24 * 60), seconds=n % 60)  # the next 30 days
            op = arm_op(ArmedReminder(f"t{n % 50}", f"task{n:06d}", at))
            items.append({"PutRequest": {"Item": serialize({**op.item, "version": 1})}})
        for start in range(0, len(items), 25):
            request = {table: items[start : start + 25]}
            while request:
                request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        seeded = time.monotonic() - started

        reads: Counter[str] = Counter()
        calls: list[str] = []

        def after_call(model: Any, parsed: dict[str, Any], **_: Any) -> None:
            calls.append(model.name)
            if model.name == "Query":
                reads["Count"] += parsed.get("Count", 0)
                reads["ScannedCount"] += parsed.get("ScannedCount", 0)
            if model.name == "GetItem" and "Item" in parsed:
                reads["GetItem"] += 1

        reminders = container().reminders
        reminders._clock = lambda: now
        # The checkpoint of the previous run, five minutes ago.
        reminders._store.record_sweep(now - timedelta(minutes=5))
        dynamodb.meta.events.register("after-call.dynamodb", after_call, unique_id="bench-reminder-reads")
        try:
            swept = time.monotonic()
            queued = reminders.sweep()
            swept = time.monotonic() - swept
        finally:
            dynamodb.meta.events.unregister("after-call.dynamodb", unique_id="bench-reminder-reads")
    result = {
        "reminders": total,
        "due": due,
        "queued": queued,
        "items_read": reads["ScannedCount"],
        "query_count": reads["Count"],
        "calls": dict(Counter(calls)),
        "seed_s": round(seeded, 1),
        "sweep_s": round(swept, 2),
    }
    print(f"reminders in the table: {total:,}  due now: {due}  queued by the sweep: {queued}")
    print(
        f"items read by the sweep: {reads['ScannedCount']} (Query Count {reads['Count']}, "
        f"+{reads['GetItem']} checkpoint GetItem)  calls: {dict(Counter(calls))}"
    )
    print(f"seeding {seeded:.1f} s, sweep {swept:.2f} s")
    return result


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
