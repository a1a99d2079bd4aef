"""The unit-test container itself: every adapter a service can reach is an
in-memory twin, and the twins stay out of AWS."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from functools import cached_property
from pathlib import Path

from chalicelib.bootstrap.container import Container
from chalicelib.storage.memory import Adapters
from tests.unit.conftest import Unit

REPO = Path(__file__).resolve().parents[2]
# Built by the container but used by the HTTP layer only (Idempotency-Key, GET /health), never by a service.
HTTP_ONLY = {"idempotency", "check_dependencies"}
# Not adapters but values one may fetch on a deployed stage; the unit settings carry them (no AWS).
SETTINGS_VALUES = {"cursor_secret"}
# Services wired with storage's bridges over other services and twins (storage/mailing.py's
# recipients, files, history and field names; storage/gdpr.py's ContactsExist over the contact
# store): built over the twins here like every service.
BRIDGED_SERVICES = {"mailings", "gdpr"}
# None by design: the real transport (API tests hand in a fake one; unit tests replace ``telephony``).
NONE_BY_DEFAULT = {"twilio_http_client"}
# A parser of the table's stream records (storage/webhooks.change_of), not an adapter.
PARSERS = {"stream_change"}
# Features that landed with twins their own unit tests wire (storage/memory/{imports,exports,reports,
# webhooks}.py; tests/unit/test_{import,export}_service.py, test_reports_service.py,
# test_webhook_rules.py) but not yet in MemoryAdapters: the unit container builds them on AWS adapters.
OWN_TWINS = {
    "contact_index",
    "export_files",
    "export_store",
    "import_files",
    "import_queue",
    "import_store",
    "report_call_rows",
    "report_contact_rows",
    "report_deal_rows",
    "report_files",
    "report_invoice_rows",
    "report_linked_access",
    "report_schedule_store",
    "report_settings_store",
    "report_store",
    "report_task_rows",
    "webhook_delivery_store",
    "webhook_resolver",
    "webhook_sender",
    "webhook_subscription_store",
}


def storage_adapters() -> set[str]:
    """The container's attributes that build a storage adapter (they import storage lazily)."""
    return {
        name
        for name, value in vars(Container).items()
        if isinstance(value, cached_property) and "chalicelib.storage" in inspect.getsource(value.func)
    }


def test_every_adapter_a_service_can_reach_has_a_twin() -> None:
    expected = set(Adapters.__annotations__)
    assert storage_adapters() - HTTP_ONLY - SETTINGS_VALUES - BRIDGED_SERVICES - PARSERS - OWN_TWINS == expected


def test_the_unit_container_builds_every_service_on_twins(unit: Unit) -> None:
    for name in Adapters.__annotations__:
        assert type(getattr(unit, name)).__module__.startswith("chalicelib.storage.memory."), name
    services = [
        name
        for name, value in vars(Container).items()
        if isinstance(value, cached_property) and name not in HTTP_ONLY | NONE_BY_DEFAULT
    ]
    for name in services:  # every service builds from the twins alone
        assert getattr(unit, name) is not None, name


def test_the_twins_load_no_aws_library() -> None:
    probe = "import chalicelib.storage.memory, json, sys; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout)
    assert "chalicelib.storage.memory.indexed_store" in modules  # the probe imported the twins
    assert [m for m in modules if m.split(".")[0] in ("boto3", "botocore", "moto")] == []
