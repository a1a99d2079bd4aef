"""GDPR (issue 18): the registry of erasers and exporters covers every feature,
and the orchestrated job's rules (order, resume, admins only) over fakes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.bootstrap.gdpr import ERASERS, EXPORTERS, NO_PERSONAL_DATA, NOT_EXPORTED
from chalicelib.domain.gdpr.service import Gdpr, GdprKind, GdprMessage, GdprStatus
from chalicelib.domain.shared.access import ContactAccess, ContactShare
from chalicelib.domain.shared.errors import Forbidden, NotFound
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.storage.memory.gdpr import MemoryGdprJobs

DOMAIN = Path(__file__).resolve().parents[2] / "chalicelib" / "domain"


def features() -> set[str]:
    return {p.name for p in DOMAIN.iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def test_every_feature_has_an_eraser_or_says_why_it_holds_no_personal_data() -> None:
    """A new feature package (chalicelib/domain/<feature>) fails here until
    bootstrap/gdpr.py erases what it stores about a person, or says why it stores nothing."""
    missing = sorted(features() - set(ERASERS) - set(NO_PERSONAL_DATA))
    assert missing == [], f"features without a GDPR eraser: {missing} (bootstrap/gdpr.py)"
    assert not set(ERASERS) & set(NO_PERSONAL_DATA)
    assert set(ERASERS) | set(NO_PERSONAL_DATA) <= features(), "an entry names no feature package"


def test_every_feature_with_personal_data_is_exported_or_says_why_not() -> None:
    erased = features() - set(NO_PERSONAL_DATA)
    missing = sorted(erased - set(EXPORTERS) - set(NOT_EXPORTED))
    assert missing == [], f"features without a GDPR exporter: {missing} (bootstrap/gdpr.py)"
    assert all(len(reason) > 20 for reason in {**NO_PERSONAL_DATA, **NOT_EXPORTED}.values())


def test_the_contact_record_goes_last_and_invoices_before_it() -> None:
    order = list(ERASERS)
    assert order[-1] == "contacts"
    if "invoices" in order:
        assert order.index("invoices") < order.index("contacts")
    assert order.index("notifications") < order.index("tasks")  # it finds the tasks' notifications


# ---- the service over fakes ----


class Files:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, tenant_id: str, contact_id: str, job_id: str, data: bytes) -> str:
        key = f"exports/{tenant_id}/{contact_id}/{job_id}.zip"
        self.objects[key] = data
        return key

    def download_url(self, key: str, seconds: int) -> str:
        return f"https://s3.example/{key}?expires={seconds}"


class People:
    """c1 is shared for reading; c2 is private to another user."""

    def __init__(self, *ids: tuple[str, str]) -> None:
        self.ids = set(ids)

    def access(self, tenant_id: str, contact_id: str) -> ContactAccess | None:
        if (tenant_id, contact_id) not in self.ids:
            return None
        share = ContactShare.PRIVATE if contact_id == "c2" else ContactShare.SHARED_READ
        return ContactAccess(managers=frozenset({"someone"}), share=share, created_by="someone")


class Queue:
    def __init__(self) -> None:
        self.messages: list[Mapping[str, object]] = []

    def send(self, message: Mapping[str, object], *, delay_seconds: int = 0) -> None:
        self.messages.append(message)

    def send_many(self, messages: object) -> None:
        raise AssertionError("not used")


ADMIN = Principal(tenant_id="t1", user_id="a1", role=Role.ADMIN)
USER = Principal(tenant_id="t1", user_id="u1", role=Role.USER)


def service(calls: list[str], fail_once: set[str] | None = None) -> tuple[Gdpr, MemoryGdprJobs, Files, Queue]:
    failing = set(fail_once or ())

    def eraser(name: str) -> Callable[[str, str, str], None]:
        def run(tenant: str, cid: str, by: str) -> None:
            calls.append(name)
            if name in failing:
                failing.discard(name)
                raise RuntimeError(f"{name} failed")

        return run

    jobs, files, queue = MemoryGdprJobs(), Files(), Queue()
    gdpr = Gdpr(
        jobs,
        files,
        People(("t1", "c1"), ("t1", "c2")),
        queue,
        exporters={"contacts": lambda t, c: {"contact.json": b"{}"}, "tasks": lambda t, c: {"tasks.json": b"[]"}},
        erasers={name: eraser(name) for name in ("invoices", "tasks", "contacts")},
        clock=lambda: datetime(2026, 12, 1, tzinfo=UTC),
    )
    return gdpr, jobs, files, queue


def test_erasure_runs_every_step_in_order_and_a_retry_resumes_after_the_last_done() -> None:
    calls: list[str] = []
    gdpr, jobs, _, queue = service(calls, fail_once={"tasks"})
    job = gdpr.start(ADMIN, GdprKind.ERASE, "c1")
    message = GdprMessage.model_validate(queue.messages[0])
    with pytest.raises(RuntimeError):
        gdpr.run(message)  # the message fails: SQS delivers it again
    gdpr.run(message)
    assert calls == ["invoices", "tasks", "tasks", "contacts"]
    done = jobs.get("t1", job.id)
    assert done is not None and done.status == GdprStatus.DONE and done.steps_done == ["contacts", "invoices", "tasks"]
    gdpr.run(message)  # a late duplicate
    assert len(calls) == 4


def test_export_is_a_zip_of_every_exporter_with_a_manifest() -> None:
    import io
    import json
    import zipfile

    gdpr, jobs, files, queue = service([])
    job = gdpr.start(ADMIN, GdprKind.EXPORT, "c1")
    gdpr.run(GdprMessage.model_validate(queue.messages[0]))
    done, url = gdpr.get(ADMIN, "c1", GdprKind.EXPORT, job.id)
    assert done.status == GdprStatus.DONE and url and url.startswith("https://s3.example/")
    archive = zipfile.ZipFile(io.BytesIO(files.objects[str(done.result_key)]))
    assert sorted(archive.namelist()) == ["contacts/contact.json", "manifest.json", "tasks/tasks.json"]
    assert json.loads(archive.read("manifest.json"))["files"] == {"contacts": ["contact.json"], "tasks": ["tasks.json"]}


def test_admins_only_hidden_and_other_tenants_contacts_are_404() -> None:
    gdpr, _, _, queue = service([])
    with pytest.raises(Forbidden):
        gdpr.start(USER, GdprKind.EXPORT, "c1")
    # A contact the user may not read: not found, as one that does not exist (never 403).
    with pytest.raises(NotFound):
        gdpr.start(USER, GdprKind.EXPORT, "c2")
    with pytest.raises(NotFound):
        gdpr.start(USER, GdprKind.ERASE, "nope")
    with pytest.raises(NotFound):
        gdpr.start(ADMIN, GdprKind.ERASE, "nope")
    with pytest.raises(NotFound):
        gdpr.start(Principal(tenant_id="t2", user_id="a2", role=Role.ADMIN), GdprKind.ERASE, "c1")
    job = gdpr.start(ADMIN, GdprKind.ERASE, "c1")
    with pytest.raises(NotFound):
        gdpr.get(USER, "c1", GdprKind.ERASE, job.id)
    with pytest.raises(NotFound):
        gdpr.get(ADMIN, "c1", GdprKind.EXPORT, job.id)  # the erasure's id is not an export
    assert len(queue.messages) == 1
