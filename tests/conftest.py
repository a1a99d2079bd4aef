"""Fixtures: a fresh moto per test with every resource created from the shared spec."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

TEST_ENV = {
    "CRM_STAGE": "test",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "CRM_TABLE_NAME": "crm-test",
    "CRM_BUCKET_NAME": "crm-test-files",
    "CRM_QUEUE_PREFIX": "crm-",
    "CRM_CURSOR_SECRET": "test-cursor-secret",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
# Before any app import: event sources read the queue prefix at import.
os.environ.update(TEST_ENV)
os.environ.pop("CRM_AWS_ENDPOINT_URL", None)

# The tests run on moto as the local stack runs it: transactions, queries and
# memory that do not grow with the table (infra/emulator/dynamodb_patch.py).
from infra.emulator.dynamodb_patch import install as _install_emulator_patch  # noqa: E402

_install_emulator_patch()

# Passwords are hashed with scrypt at N=2**14 (about 60 ms per hash or check, by
# design). Tests create and log in hundreds of users: they hash at a token cost.
# Hashes still carry their own parameters, so checking follows the same code; the
# production constant itself is untouched (bench/ and e2e tests keep it).
from chalicelib.domain.identity import secrets as _password_secrets  # noqa: E402

TEST_SCRYPT_N = 2**4
if _password_secrets._SCRYPT_N != TEST_SCRYPT_N:
    assert _password_secrets._SCRYPT_N == 2**14, "the production scrypt cost moved: update the test-only cost"
    _password_secrets._SCRYPT_N = TEST_SCRYPT_N


# (region, endpoint) the cached boto3 clients were built for. They are kept from
# test to test while it holds (moto intercepts a client whatever mock it was
# made under); a test that points the settings elsewhere has them built again.
_clients_target: tuple[str, str | None] | None = None


def _reset_caches() -> None:
    global _clients_target
    from chalicelib import bootstrap
    from chalicelib.config import get_settings, reset_settings
    from chalicelib.storage.dynamo import aws as _aws
    from chalicelib.storage.queues import reset_queue_urls

    # The settings cached now are those any client built since the last reset used.
    used = get_settings() if get_settings.cache_info().currsize else None
    if used is not None and (used.region, used.aws_endpoint_url) != _clients_target:
        _aws.client.cache_clear()
        _clients_target = None
    reset_settings()
    # The boto3 session stays in any case: it holds the parsed service models,
    # and parsing them again for every test was about 0.4 s of each test's setup.
    # (reset_clients() drops both.)
    reset_queue_urls()
    bootstrap.reset()


def _use_clients_for_these_settings() -> None:
    """Keep the cached clients if they were built for the settings in force now."""
    global _clients_target
    from chalicelib.config import get_settings
    from chalicelib.storage.dynamo import aws as _aws

    settings = get_settings()
    target = (settings.region, settings.aws_endpoint_url)
    if target != _clients_target:
        _aws.client.cache_clear()
        _clients_target = target


# Under xdist a run ends when its busier worker does: the slow levels are
# collected first, so a long end-to-end test never starts last on one worker
# while the other has nothing left. (Order within a level is kept.)
_SLOW_LEVELS_FIRST = ("e2e", "infra", "jobs")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        parts = item.nodeid.split("/")
        level = parts[1] if len(parts) > 2 and parts[0] == "tests" else ""
        return _SLOW_LEVELS_FIRST.index(level) if level in _SLOW_LEVELS_FIRST else len(_SLOW_LEVELS_FIRST)

    items.sort(key=rank)


# The tenants the shared fixtures stand for: fixture name -> (tenant name, owner e-mail).
SEEDED_TENANTS = {"tenant": ("Acme", "owner@acme.example"), "other_tenant": ("Globex", "owner@globex.example")}
# moto's state after create_resources() and those tenants, per start variant and set of tenant
# fixtures a test uses; built by the first such test of this process.
_STARTS: dict[tuple[str, tuple[str, ...]], Any] = {}
_CREATED = pytest.StashKey[dict[str, Any]]()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[None]:
    """moto for this test only, with table, bucket and queues from table_spec,
    and the tenants of the tenant fixtures this test uses (tests/moto_state.py)."""
    from moto import mock_aws

    from tests.moto_state import MotoState

    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
    _reset_caches()
    _use_clients_for_these_settings()
    wanted = tuple(name for name in SEEDED_TENANTS if name in request.fixturenames)
    # A test that changes how a tenant is created or seeded before it is
    # created (an autouse fixture) marks itself: its start is built for it.
    fresh = request.node.get_closest_marker("fresh_start") is not None
    # One that changes it the same way for a whole module names the change
    # instead: that start is built once and copied like the shared one.
    variant = request.node.get_closest_marker("start_variant")
    key = (str(variant.args[0]) if variant else "", wanted)
    with mock_aws():
        start = None if fresh else _STARTS.get(key)
        if start is not None:
            start.restore()
            created = start.extra
        else:
            from chalicelib.cli import create_tenant
            from chalicelib.storage.dynamo.provision import create_resources

            create_resources()
            created = {name: create_tenant(*SEEDED_TENANTS[name], owner_password=OWNER_PASSWORD) for name in wanted}
            if created:
                # The owners log in as a client would (their sessions last 7 days).
                from chalice.test import Client

                from app import app as chalice_app

                with Client(chalice_app) as test_client:
                    for made in created.values():
                        made["owner_token"] = login(Api(test_client), str(made["owner_email"]), OWNER_PASSWORD)
            if not fresh:
                _STARTS[key] = MotoState(extra=created)
            # As after a copy: the test builds its own container from here.
            _reset_caches()
            _use_clients_for_these_settings()
        request.node.stash[_CREATED] = created
        yield
    _reset_caches()


@pytest.fixture
def app(aws: None) -> Any:
    from app import app as chalice_app

    return chalice_app


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    from chalice.test import Client

    with Client(app) as test_client:
        yield test_client


class Api:
    """Small helper over chalice.test.Client: JSON in, (status, json, headers) out."""

    def __init__(self, client: Any):
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | str | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.client.http, method.lower())(path, headers=all_headers, body=payload)
        try:
            data = json.loads(response.body) if response.body else None
        except ValueError:
            data = response.body
        return response.status_code, data, {k.lower(): v for k, v in response.headers.items()}


@pytest.fixture
def api(client: Any) -> Api:
    return Api(client)


# ---- identity helpers ----

OWNER_PASSWORD = "owner-password-1"


def login(api: Api, email: str, password: str) -> str:
    status, body, _ = api.call("POST", "/v1/auth/login", {"email": email, "password": password})
    assert status == 200, body
    return body["token"]


class Tenant:
    """A tenant made through the admin CLI, with its owner logged in."""

    def __init__(self, api: Api, name: str, owner_email: str, created: dict[str, Any] | None = None):
        """``created``: what create_tenant answered, and the owner's session
        token, when the tenant exists already (the aws fixture's copied start)."""
        if created is None:
            from chalicelib.cli import create_tenant

            created = create_tenant(name, owner_email, owner_password=OWNER_PASSWORD)
        self.api = api
        self.id = created["tenant_id"]
        self.owner_id = created["owner_id"]
        self.owner_email = owner_email
        self.owner_token = created.get("owner_token") or self.login(owner_email, OWNER_PASSWORD)

    def login(self, email: str, password: str) -> str:
        return login(self.api, email, password)

    def add_user(
        self, email: str, role: str = "user", password: str = "user-password-1", token: str | None = None
    ) -> tuple[str, str]:
        """(user id, their login token)"""
        status, body, _ = self.api.call(
            "POST",
            "/v1/users",
            {"email": email, "name": email.split("@")[0], "role": role, "password": password},
            headers=bearer(token or self.owner_token),
        )
        assert status == 201, body
        return body["id"], self.login(email, password)


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


@pytest.fixture
def tenant(api: Api, request: pytest.FixtureRequest) -> Tenant:
    return Tenant(api, *SEEDED_TENANTS["tenant"], created=request.node.stash[_CREATED]["tenant"])


@pytest.fixture
def other_tenant(api: Api, request: pytest.FixtureRequest) -> Tenant:
    return Tenant(api, *SEEDED_TENANTS["other_tenant"], created=request.node.stash[_CREATED]["other_tenant"])


@pytest.fixture
def run_jobs(aws: None) -> Any:
    """Deliver what is on the job queue to the consumer, as the pump/Lambda would."""

    def run() -> dict[str, Any]:
        from chalicelib.handlers.background.consumer import process_job_batch
        from chalicelib.storage.dynamo.aws import client as aws_client
        from chalicelib.storage.queues import queue_url

        sqs, url, failures, handled = aws_client("sqs"), queue_url("jobs"), [], 0
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return {"handled": handled, "failures": failures}
            event = {
                "Records": [
                    {
                        "messageId": m["MessageId"],
                        "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"],
                        "attributes": {"ApproximateReceiveCount": "1"},
                        "messageAttributes": {},
                        "md5OfBody": m["MD5OfBody"],
                        "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:crm-jobs",
                        "awsRegion": "eu-central-1",
                    }
                    for m in messages
                ]
            }
            result = process_job_batch(event)
            failures += result["batchItemFailures"]
            handled += len(messages)
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    return run


def sqs_record(message: dict[str, Any], queue: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:eu-central-1:123456789012:crm-{queue}",
        "awsRegion": "eu-central-1",
    }


@pytest.fixture
def run_queues(aws: None) -> Any:
    """Deliver the imports and jobs queues to their consumers until both are
    empty (or ``limit`` batches), as the pump/Lambda would: a failed message
    is not deleted and comes back (at once here, after the visibility
    timeout on SQS). Answers the messages handled and the failures."""

    def run(limit: int = 10_000, context: Any = None) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

        from chalicelib.handlers.background.consumer import process_job_batch
        from chalicelib.storage.dynamo.aws import client as aws_client
        from chalicelib.storage.queues import queue_url

        sqs, failures, handled = aws_client("sqs"), [], 0
        for _ in range(limit):
            busy = False
            for queue in ("imports", "jobs"):
                url = queue_url(queue)
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    continue
                busy = True
                try:
                    result = process_job_batch({"Records": [sqs_record(m, queue) for m in messages]}, context)
                    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
                except BatchProcessingError:  # every message of the batch failed
                    failed = {m["MessageId"] for m in messages}
                failures += [{"itemIdentifier": m} for m in failed]
                handled += len(messages)
                for m in messages:
                    if m["MessageId"] in failed:
                        sqs.change_message_visibility(
                            QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                        )
                    else:
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if not busy:
                break
        return {"handled": handled, "failures": failures}

    return run


def sent_emails() -> list[Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["eu-central-1"].sent_messages)


# ---- fake parents (history, files and change log without real contacts) ----

from chalicelib.domain.records.parents import ParentRef, Parents, Resolver  # noqa: E402  (after the test env)
from chalicelib.domain.shared.access import ContactAccess, ContactShare, ListAccess  # noqa: E402
from chalicelib.domain.shared.clock import new_id  # noqa: E402


@dataclass
class FakeParents:
    """Contacts and deals kept in a dict, per tenant."""

    records: dict[tuple[str, str, str], ParentRef] = field(default_factory=dict)

    def add(
        self,
        tenant_id: str,
        kind: str = "contact",
        *,
        managers: tuple[str, ...] = (),
        share: str = "shared_read",
        access_list: tuple[str, ...] = (),
        created_by: str = "someone",
        record_id: str | None = None,
    ) -> str:
        record_id = record_id or new_id()
        if kind == "contact":
            access: Any = ContactAccess(frozenset(managers), ContactShare(share), created_by)
        else:
            access = ListAccess(frozenset(access_list), created_by)
        self.records[(tenant_id, kind, record_id)] = ParentRef(kind, record_id, f"{kind} {record_id}", access)
        return record_id

    def remove(self, tenant_id: str, kind: str, record_id: str) -> None:
        del self.records[(tenant_id, kind, record_id)]

    def resolver(self, kind: str) -> Resolver:
        return lambda principal, record_id: self.records.get((principal.tenant_id, kind, record_id))


@pytest.fixture
def fake_parents(aws: None) -> FakeParents:
    """Fake contact and deal resolvers in this test's container (no cases)."""
    from chalicelib.bootstrap import container

    fake = FakeParents()
    container().override(parents=Parents({kind: fake.resolver(kind) for kind in ("contact", "deal")}))
    return fake


@pytest.fixture
def twilio(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The fake Twilio (two accounts, tests/voip_helpers.py) behind the container's Twilio client."""
    from chalicelib import bootstrap
    from chalicelib.config import reset_settings
    from chalicelib.storage.memory.twilio_api import FakeTwilioApi, fake_http_client
    from tests.voip_helpers import ACCOUNT_SID, AUTH_TOKEN, OTHER_SID, OTHER_TOKEN, PUBLIC_URL

    monkeypatch.setenv("CRM_PUBLIC_URL", PUBLIC_URL)
    reset_settings()
    bootstrap.reset()
    fake = FakeTwilioApi(accounts={ACCOUNT_SID: AUTH_TOKEN, OTHER_SID: OTHER_TOKEN})
    bootstrap.container().override(twilio_http_client=fake_http_client(fake))
    return fake
