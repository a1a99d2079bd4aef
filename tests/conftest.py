"""Fixtures: a fresh moto per test with every resource created from the shared spec."""
from __future__ import annotations

import json
import os
from typing import Any, Iterator

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


def _reset_caches() -> None:
    from chalicelib import services
    from chalicelib.config import reset_settings
    from chalicelib.storage.aws import reset_clients
    from chalicelib.storage.queues import reset_queue_urls

    reset_settings()
    reset_clients()
    reset_queue_urls()
    services.reset()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for this test only, with table, bucket and queues from table_spec."""
    from moto import mock_aws

    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)
    _reset_caches()
    with mock_aws():
        from chalicelib.storage.provision import create_resources

        create_resources()
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

    def call(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
             raw: bytes | str | None = None) -> tuple[int, Any, dict[str, str]]:
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
