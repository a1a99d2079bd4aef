"""Export memory and time by contact count (issue 14, ADM-1).

    python bench/exports.py [--synthetic 10000,100000,1000000] [--seeded 5000,20000]

Each measurement runs in a fresh process against the AWS emulator
(``python -m infra.emulator``, moto server with the DynamoDB patch) in its
own process, so the bench process's peak resident memory (``ru_maxrss``) is
the exporter's alone, not the emulator's copy of the data or of the file.

- ``--synthetic N``: the real export (Exports service, the contacts source's
  rows, CSV, the streamed ZIP, the S3 multipart upload over HTTP, the job and
  its checkpoints in the table) over a contacts service that makes N contacts
  up as it is paged (each with e-mails, phones, an address, tags, custom
  values). This is how a million contacts fit on one machine: the emulator
  would need tens of GB to hold a million real contacts and their index items.
- ``--seeded N``: N real contacts written into the emulator's table (their
  items and index entries, as the contacts store writes them), then the
  export through the container as ``POST /v1/exports`` runs it: list pages
  of 200 from the table, one Query and one BatchGetItem each.

After the export, in the same process, the baseline: the same source's
pages (same rows, same reads) written with ``csv.writer`` into a
``zipfile.ZipFile`` (deflate) that discards its bytes: the floor of making
those rows into a ZIP at all, without S3, checkpoints or the job.

Printed per size: seconds, rows/s, the baseline's rows/s and the ratio
(baseline time / export time), the peak RSS of the process (measured before
the baseline runs) and how much of it the export added over the process
before it started, the ZIP's size. Goal (issue 14): under 300 MB at a
million contacts. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ENV = {
    "CRM_STAGE": "test",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "CRM_TABLE_NAME": "crm-bench",
    "CRM_BUCKET_NAME": "crm-bench-files",
    "CRM_QUEUE_PREFIX": "crm-bench-",
    "CRM_CURSOR_SECRET": "bench-cursor-secret",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}
FIRST = ["Anna", "Bernd", "Clara", "Jürgen", "Søren", "Chloé", "Zoë", "Łukasz"]
LAST = ["Müller", "Schmidt", "O'Brien", "Ørsted", "Größer", "=HYPERLINK(x)"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def contact(n: int, tenant_id: str, owner_id: str) -> Any:
    from chalicelib.domain.contacts.models import Contact

    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
    return Contact(
        id=f"01J{n:023d}",
        tenant_id=tenant_id,
        kind="person",
        first_name=FIRST[n % len(FIRST)],
        last_name=LAST[n % len(LAST)],
        job_title="Head of Purchasing" if n % 3 else None,
        description=("Met at the fair.\nCall in spring; prefers e-mail. " * (n % 4)) or None,
        tags=["Lead", "Newsletter"][: n % 3],
        managers=[owner_id],
        details=[
            {"type": "email", "category": "work", "value": f"person{n}@example.de", "primary": True},
            {"type": "email", "category": "home", "value": f"p{n}@mail.example", "primary": False},
            {"type": "phone", "category": "mobile", "value": f"+4915{n:09d}", "primary": True},
            {
                "type": "address",
                "category": "work",
                "value": {
                    "street": f"Hauptstraße {n % 300}",
                    "city": "Köln",
                    "state": "",
                    "zip": "50667",
                    "country": "DE",
                },
                "primary": True,
            },
        ],
        custom_fields={"F1": "1980-05-17"} if n % 2 else {},
        created_at=moment,
        created_by=owner_id,
        updated_at=moment,
        updated_by=owner_id,
    )


class MadeUpContacts:
    """Contacts.list over contacts made up as they are paged (nothing held)."""

    def __init__(self, count: int, tenant_id: str, owner_id: str):
        self.count, self.tenant_id, self.owner_id = count, tenant_id, owner_id

    def list(self, principal: Any, query: Any, page: Any) -> Any:
        from chalicelib.domain.shared.pagination import Slice

        start = (page.after or {}).get("n", 0)
        end = min(start + page.limit, self.count)
        items = [contact(n, self.tenant_id, self.owner_id) for n in range(start, end)]
        return Slice(items, {"n": end} if end < self.count else None)


class Fields:
    def for_scope(self, principal: Any, scope: str) -> list[Any]:
        from chalicelib.domain.settings.custom_fields import CustomField

        return [
            CustomField(
                id="F1",
                entity="contact",
                label="Birthday",
                type="date",
                order=1,
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        ]


class Lists:
    def list(self, principal: Any, list_name: str) -> list[Any]:
        return []


class Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: Any, *, delay_seconds: int = 0) -> None:
        self.sent.append(dict(message))


class _Discard:
    """A write-only file that keeps nothing (zipfile writes data descriptors on unseekable files)."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def tell(self) -> int:
        return self.size


def baseline(source: Any, principal: Any) -> tuple[float, int]:
    """Seconds to page the source and write its rows as CSV into a discarded ZIP; the rows."""
    import csv
    import io
    import zipfile

    started, rows, after = time.perf_counter(), 0, None
    with zipfile.ZipFile(_Discard(), "w", zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        with archive.open("contacts.csv", "w", force_zip64=True) as entry:
            text = io.TextIOWrapper(entry, encoding="utf-8-sig", newline="")
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(source.columns(principal))
            while True:
                page, after = source.page(principal, {}, after)
                writer.writerows(page)
                rows += len(page)
                if after is None:
                    break
            text.flush()
            text.detach()
    return time.perf_counter() - started, rows


def _connect(port: int) -> None:
    os.environ.update(ENV)
    os.environ["CRM_AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    sys.path.insert(0, str(REPO))


def synthetic(count: int, port: int) -> dict[str, Any]:
    _connect(port)
    from chalicelib.bootstrap import container
    from chalicelib.cli import create_tenant
    from chalicelib.domain.exports.models import ExportRun, NewExport
    from chalicelib.domain.exports.service import Exports
    from chalicelib.domain.exports.sources import ContactRows
    from chalicelib.domain.shared.principal import Principal, Role
    from chalicelib.storage.dynamo.provision import create_resources

    create_resources()
    created = create_tenant(f"Bench {count}", f"owner{count}@bench.example", owner_password="bench-password-1")
    principal = Principal(tenant_id=created["tenant_id"], user_id=created["owner_id"], role=Role.OWNER)
    c = container()
    queue = Queue()
    source = ContactRows(
        MadeUpContacts(count, principal.tenant_id, principal.user_id), Fields(), c.identity_store, Lists()
    )
    exports = Exports(c.background_jobs, c.export_store, c.export_files, queue, c.identity_store, {"contacts": source})
    before = rss_mb()
    started = time.perf_counter()
    job = exports.start(principal, NewExport(entities=["contacts"]))
    runs = 0
    while queue.sent:
        exports.run(ExportRun.model_validate(queue.sent.pop(0)))
        runs += 1
    elapsed = time.perf_counter() - started
    shown, _ = c.background_jobs.get(principal, job.id)
    result = _result(count, elapsed, before, shown, runs)
    return {**result, **_baseline(source, principal, count, elapsed)}


def seeded(count: int, port: int) -> dict[str, Any]:
    _connect(port)
    from chalicelib.bootstrap import container
    from chalicelib.cli import create_tenant
    from chalicelib.domain.exports.models import ExportRun, NewExport
    from chalicelib.domain.shared.principal import Principal, Role
    from chalicelib.storage.contacts.store import ContactStore, index_entries
    from chalicelib.storage.dynamo.provision import create_resources
    from chalicelib.storage.dynamo.table import Table

    create_resources()
    created = create_tenant(f"Seeded {count}", f"seed{count}@bench.example", owner_password="bench-password-1")
    principal = Principal(tenant_id=created["tenant_id"], user_id=created["owner_id"], role=Role.OWNER)
    store, table = ContactStore(), Table()
    seeding = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for n in range(count):
        record = contact(n, principal.tenant_id, principal.user_id).model_copy(update={"custom_fields": {}})
        batch += [{**store.item(record), "version": 1}, *index_entries(record).values()]
        if len(batch) >= 500:
            table.write_batch(puts=batch)  # DESIGN: seed benchmarks without transactions
            batch = []
    table.write_batch(puts=batch)
    seeding = time.perf_counter() - seeding
    c = container()
    queue = Queue()
    c.override(job_queue=queue)
    before = rss_mb()
    started = time.perf_counter()
    job = c.exports.start(principal, NewExport(entities=["contacts"]))
    runs = 0
    while queue.sent:
        message = queue.sent.pop(0)
        if message.get("kind") == "exports.run":
            c.exports.run(ExportRun.model_validate(message))
            runs += 1
    elapsed = time.perf_counter() - started
    shown, _ = c.background_jobs.get(principal, job.id)
    result = {**_result(count, elapsed, before, shown, runs), "seeding_seconds": round(seeding, 1)}
    return {**result, **_baseline(c.export_sources["contacts"], principal, count, elapsed)}


def _baseline(source: Any, principal: Any, count: int, elapsed: float) -> dict[str, Any]:
    seconds, rows = baseline(source, principal)
    if rows != count:
        raise SystemExit(f"the baseline read {rows} rows, not {count}")
    return {
        "baseline_seconds": round(seconds, 1),
        "baseline_rows_per_second": round(count / seconds),
        "ratio": round(seconds / elapsed, 3),
    }


def _result(count: int, elapsed: float, before: float, job: Any, runs: int) -> dict[str, Any]:
    if job.status != "done" or job.result["rows"] != {"contacts": count}:
        raise SystemExit(f"the export did not finish as expected: {job.status} {job.result}")
    return {
        "contacts": count,
        "seconds": round(elapsed, 1),
        "rows_per_second": round(count / elapsed),
        "peak_rss_mb": round(rss_mb(), 1),
        "before_mb": round(before, 1),
        "zip_mb": round(job.result["size"] / 1e6, 1),
        "runs": runs,
    }


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", default="10000,100000,1000000")
    parser.add_argument("--seeded", default="5000,20000")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        kind, count = args.one.split(":")
        run = synthetic if kind == "synthetic" else seeded
        print(json.dumps(run(int(count), args.port)), flush=True)
        return 0
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    emulator = subprocess.Popen(
        [sys.executable, "-m", "infra.emulator", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                with closing(socket.create_connection(("127.0.0.1", port), timeout=0.2)):
                    break
            except OSError:
                time.sleep(0.2)
        jobs = [("synthetic", int(n)) for n in args.synthetic.split(",") if n]
        jobs += [("seeded", int(n)) for n in args.seeded.split(",") if n]
        for kind, count in jobs:
            answer = subprocess.run(
                [sys.executable, __file__, "--one", f"{kind}:{count}", "--port", str(port)],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            )
            r = json.loads(answer.stdout.strip().splitlines()[-1])
            seed = f", seeded in {r['seeding_seconds']} s" if "seeding_seconds" in r else ""
            print(
                f"{kind:>9} {count:>9,} contacts: {r['seconds']:>7.1f} s = {r['rows_per_second']:>6,} rows/s "
                f"(baseline csv+zipfile of the same pages {r['baseline_rows_per_second']:,} rows/s, "
                f"ratio {100 * r['ratio']:.0f} %), peak RSS {r['peak_rss_mb']:>6.1f} MB "
                f"({r['peak_rss_mb'] - r['before_mb']:+.1f} MB over the "
                f"{r['before_mb']:.0f} MB before), ZIP {r['zip_mb']} MB, {r['runs']} invocation(s){seed}",
                flush=True,
            )
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
