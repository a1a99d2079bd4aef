"""CSV import end to end against raw batch writes of the same items (issue 14).

    python bench/imports.py [--rows 100000] [--sizes 1000,10000] [--policy skip|update|create]
                            [--duplicates 0.2]

``--policy create`` imports without duplicate matching; ``skip`` and
``update`` match each row by id, e-mail (one exact key: the contact's
``mail#`` index entry) and external id; ``--duplicates 0.2`` makes every
fifth row a duplicate by e-mail of the row before it (with ``update``: merged
into that contact, a new version with its change log).

For each size, in a fresh process with a fresh in-process moto (DynamoDB with
infra/emulator's patch installed, as the tests and the local stack run it):

1. a tenant, and a CSV of generated persons (first and last name, e-mail,
   phone, address, a tag) uploaded to S3;
2. the import is previewed and started with the suggested mapping (match on
   id, e-mail and external id; ``--policy``, default skip), and the imports
   queue (and the jobs queue it feeds) is drained into the consumer Lambda
   calls, ``process_job_batch``: S3 ranged reads -> chunks -> the Contacts
   service -> one transaction per contact -> DynamoDB. Timed from start to
   the import's status ``done``;
3. every item the import left in the table (contacts, their index entries,
   change log, tag registry, row markers, the import's record) is written
   again, into an empty table of the same backend, with boto3's
   ``batch_writer`` (25 unconditional puts per request): the floor for
   writing those items at all.

Printed per size: rows/s of the import, rows/s of the batch writes (same
rows, their items), the ratio (goal: at least 50 %), items per row, and the
DynamoDB requests per row by operation. Also the CPU seconds of both phases
(``time.process_time``: moto runs in this process, so it is all the work),
and their ratio: on a machine shared with other work the wall-clock ratio
moves with the load between the two phases, the CPU ratio much less.
Nothing here asserts.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# fmt: off
FIRST = ["Anna", "Bernd", "Clara", "David", "Eva", "Felix", "Greta", "Hans", "Ida", "Jonas", "Karla", "Lukas",
         "Mia", "Noah", "Olga", "Paul", "Quirin", "Rosa", "Sven", "Tina", "Uwe", "Vera", "Willi", "Xenia",
         "Yusuf", "Zoe", "Jürgen", "Søren", "Chloé", "Małgorzata"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schulz",
        "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
        "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann", "Schmid", "O'Brien", "Ørsted"]
# fmt: on
CITIES = ["Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Stuttgart", "Düsseldorf", "Leipzig"]
TAGS = ["Lead", "Customer", "Partner", "Newsletter"]
TEST_ENV = {
    "CRM_STAGE": "test",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "CRM_TABLE_NAME": "crm-bench",
    "CRM_BUCKET_NAME": "crm-bench-files",
    "CRM_QUEUE_PREFIX": "crm-",
    "CRM_CURSOR_SECRET": "bench-cursor-secret",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}


def generate(rows: int, duplicates: float = 0.0) -> bytes:
    """A CSV of ``rows`` persons; with ``duplicates`` (a fraction), every
    ``1 / duplicates``-th row is the previous row's person again (same name and
    e-mail address) with its own phone, address and tag: a duplicate by e-mail
    that ``update`` merges into the contact the previous row made."""
    step = round(1 / duplicates) if duplicates else 0
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["First Name", "Last Name", "E-mail Address", "Mobile Phone", "Home Street", "Home City",
                     "Home Postal Code", "Categories"])  # fmt: skip
    for n in range(rows):
        person = n - 1 if step and n % step == step - 1 else n
        first, last = FIRST[person % len(FIRST)], LAST[(person // len(FIRST)) % len(LAST)]
        writer.writerow(
            [
                first,
                last,
                f"{first[:1].lower()}.{person}@example{person % 97}.de",
                f"+49 151 {n:08d}",
                f"Hauptstraße {n % 200 + 1}",
                CITIES[n % len(CITIES)],
                f"{10000 + n % 89999:05d}",
                TAGS[n % len(TAGS)],
            ]
        )
    return buffer.getvalue().encode("utf-8")


class Calls:
    """DynamoDB requests by operation, counted at the app's cached client."""

    def __init__(self) -> None:
        self.counter: Counter[str] = Counter()

    def __call__(self, operation_name: str, **_: Any) -> None:
        self.counter[operation_name] += 1


def one(rows: int, policy: str, duplicates: float = 0.0) -> dict[str, Any]:
    os.environ.update(TEST_ENV)
    os.environ.pop("CRM_AWS_ENDPOINT_URL", None)
    sys.path.insert(0, str(REPO))
    from infra.emulator.dynamodb_patch import install

    install()
    from moto import mock_aws

    with mock_aws():
        return _measure(rows, policy, duplicates)


def _drain(context: Any = None, progress: Any = None) -> int:
    from chalicelib.handlers.background.consumer import process_job_batch
    from chalicelib.storage.dynamo.aws import client
    from chalicelib.storage.queues import queue_url

    sqs, handled = client("sqs"), 0
    while True:
        busy = False
        for queue in ("imports", "jobs"):
            url = queue_url(queue)
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                continue
            busy = True
            records = [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:eu-central-1:123456789012:crm-{queue}",
                    "awsRegion": "eu-central-1",
                }
                for m in messages
            ]
            result = process_job_batch({"Records": records}, context)
            if result["batchItemFailures"]:
                raise SystemExit(f"failed messages: {result}")
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            handled += len(messages)
            _trim_streams()
            if progress is not None:
                progress(handled)
        if not busy:
            return handled


def _tables() -> dict[str, Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-central-1"].tables  # type: ignore[no-any-return]


def _trim_streams() -> None:
    """Drop the stream records moto keeps for ever (the table has a stream, as
    deployed): their CPU is still spent on both sides, but 100,000 rows would
    otherwise hold ~1.5 million old and new images in memory (DynamoDB keeps
    them 24 hours, outside the caller's process)."""
    from moto.dynamodb.models.table import StreamRecord

    for table in _tables().values():
        if table.stream_shard is not None:
            table.stream_shard.items.clear()
    # moto's BaseModel also lists every instance for its reset (infra/emulator
    # untracks items, not stream records).
    StreamRecord.instances_tracked.clear()


def _table_keys(name: str) -> set[tuple[str, str]]:
    return {(i.hash_key.value, i.range_key.value) for p in _tables()[name].items.values() for i in p.values()}


def _take_items(name: str, before: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """The items the import wrote, as boto3 resource items, taken out of the moto
    table partition by partition (read from the backend: a Scan of a million
    items through moto's API would take longer than the import; taken, so the
    table and its copy are never both in memory)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer, items = TypeDeserializer(), []
    partitions = _tables()[name].items
    for pk in list(partitions):
        for item in partitions.pop(pk).values():
            wire = item.to_json()["Attributes"]
            if (wire["pk"]["S"], wire["sk"]["S"]) not in before:
                items.append({k: deserializer.deserialize(v) for k, v in wire.items()})
    return items


def _measure(rows: int, policy: str, duplicates: float = 0.0) -> dict[str, Any]:
    import boto3

    from chalicelib.bootstrap import container
    from chalicelib.cli import create_tenant
    from chalicelib.domain.imports.models import ImportEntity, NewImport, PreviewOptions, StartImport
    from chalicelib.domain.shared.principal import Principal, Role
    from chalicelib.storage.dynamo.aws import client
    from chalicelib.storage.dynamo.provision import create_resources
    from chalicelib.storage.dynamo.table_spec import table_definition
    from chalicelib.storage.imports import upload_key

    create_resources()
    created = create_tenant("Bench GmbH", "owner@bench.example", owner_password="bench-password-1")
    principal = Principal(tenant_id=created["tenant_id"], user_id=created["owner_id"], role=Role.OWNER)
    c = container()
    tenant = c.identity_store.get_tenant(principal.tenant_id)
    data = generate(rows, duplicates)
    upload = c.imports.create(principal, NewImport(entity=ImportEntity.CONTACTS, filename="bench.csv"))
    client("s3").put_object(
        Bucket=TEST_ENV["CRM_BUCKET_NAME"], Key=upload_key(principal.tenant_id, upload.record.id), Body=data
    )
    preview = c.imports.preview(principal, upload.record.id, PreviewOptions())
    before = _table_keys(TEST_ENV["CRM_TABLE_NAME"])
    calls = Calls()
    client("dynamodb").meta.events.register("before-call.dynamodb.*", _counting(calls))
    started, cpu = time.perf_counter(), time.process_time()
    c.imports.start(
        principal,
        tenant,
        upload.record.id,
        StartImport(mapping=preview.suggested_mapping, on_duplicate=policy),  # type: ignore[arg-type]
    )
    messages = _drain(progress=_progress(lambda: c.imports.get(principal, upload.record.id).counts, started, cpu))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    record = c.imports.get(principal, upload.record.id)
    counts = record.counts
    if record.status != "done" or counts.created + counts.updated + counts.unchanged + counts.skipped != rows:
        raise SystemExit(f"the import did not finish as expected: {record.status} {record.counts}")
    print(
        f"import done: {rows} rows, CPU {cpu:.1f} s ({1000 * cpu / rows:.1f} ms/row), wall {elapsed:.0f} s, {counts}",
        file=sys.stderr,
        flush=True,
    )

    plain = _take_items(TEST_ENV["CRM_TABLE_NAME"], before)
    items = len(plain)
    client("dynamodb").delete_table(TableName=TEST_ENV["CRM_TABLE_NAME"])  # memory for the second table
    baseline_name = "crm-bench-baseline"
    client("dynamodb").create_table(**table_definition(baseline_name))
    table = boto3.resource("dynamodb", region_name="eu-central-1").Table(baseline_name)
    started, baseline_cpu = time.perf_counter(), time.process_time()
    with table.batch_writer() as batch:
        for n in range(1, items + 1):
            batch.put_item(Item=plain.pop())  # popped: the list shrinks as the table grows
            if n % 10_000 == 0:
                _trim_streams()
            if n % 100_000 == 0:
                print(f"baseline: {n} of {items} items, CPU {time.process_time() - baseline_cpu:.0f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
    baseline, baseline_cpu = time.perf_counter() - started, time.process_time() - baseline_cpu
    return {
        "rows": rows,
        "policy": policy,
        "duplicates": duplicates,
        "outcomes": {"created": counts.created, "updated": counts.updated, "skipped": counts.skipped},
        "seconds": round(elapsed, 2),
        "rows_per_second": round(rows / elapsed, 1),
        "messages": messages,
        "items": items,
        "baseline_seconds": round(baseline, 2),
        "baseline_rows_per_second": round(rows / baseline, 1),
        "ratio": round(baseline / elapsed, 3),
        "cpu_seconds": round(cpu, 2),
        "baseline_cpu_seconds": round(baseline_cpu, 2),
        "cpu_ratio": round(baseline_cpu / cpu, 3),
        "requests_per_row": {op: round(n / rows, 2) for op, n in sorted(calls.counter.items())},
        "bytes": len(data),
    }


def _progress(counts: Any, started: float, cpu: float, every: float = 60.0) -> Any:
    """Prints (to stderr) the rows done and the CPU seconds so far, once a
    minute of CPU: a long run shows its rate as the table grows, and a run cut
    short still tells how far it got."""
    last = [cpu, 0]

    def report(messages: int) -> None:
        now = time.process_time()
        if now - last[0] < every:
            return
        done = counts()
        rows = done.created + done.updated + done.unchanged + done.skipped + done.failed
        spent = (now - last[0]) / max(rows - last[1], 1)
        print(
            f"progress: {rows} rows, {messages} messages, CPU {now - cpu:.0f} s "
            f"({1000 * spent:.1f} ms/row since the last line), wall {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        last[:] = [now, rows]

    return report


def _counting(calls: Calls) -> Any:
    def count(model: Any, **kwargs: Any) -> None:
        calls(model.name)

    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sizes", default="1000,10000", help="smaller sizes first, for the curve")
    parser.add_argument("--policy", default="skip", choices=["skip", "update", "create"])
    parser.add_argument("--duplicates", type=float, default=0.0, help="fraction of rows repeating an earlier e-mail")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.policy, args.duplicates)), flush=True)
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s] + [args.rows]
    results = []
    for rows in dict.fromkeys(sizes):
        answer = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                str(rows),
                "--policy",
                args.policy,
                "--duplicates",
                str(args.duplicates),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(answer.stdout.strip().splitlines()[-1])
        results.append(result)
        print(
            f"{rows:>7} rows ({result['bytes'] / 1e6:.1f} MB, {result['messages']} messages): import "
            f"{result['seconds']:>7.1f} s = {result['rows_per_second']:>6.1f} rows/s | batch_writer of its "
            f"{result['items']} items {result['baseline_seconds']:>6.1f} s = "
            f"{result['baseline_rows_per_second']:>6.1f} rows/s | ratio {100 * result['ratio']:.0f} %",
            flush=True,
        )
        print(
            f"         CPU (this process, moto included): import {result['cpu_seconds']:.1f} s = "
            f"{1000 * result['cpu_seconds'] / rows:.1f} ms/row | batch_writer {result['baseline_cpu_seconds']:.1f} s"
            f" = {1000 * result['baseline_cpu_seconds'] / rows:.1f} ms/row | ratio {100 * result['cpu_ratio']:.0f} %",
            flush=True,
        )
        print(
            f"         outcomes {result['outcomes']}; DynamoDB requests per row: {result['requests_per_row']}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
