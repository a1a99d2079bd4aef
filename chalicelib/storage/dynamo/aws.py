"""boto3 clients: created once per container, lazily, with timeouts and retries."""

from __future__ import annotations

import functools
import threading
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from chalicelib.config import get_settings

_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 4},
)
_lock = threading.Lock()
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# What an emulator on this machine (the local stack) is signed with: it takes
# any key, boto3 refuses to sign without one, and real credentials have no
# business there. So `CRM_AWS_ENDPOINT_URL=http://127.0.0.1:4566` alone is enough.
_EMULATOR_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local", "aws_session_token": None}


def _credentials(endpoint_url: str | None) -> dict[str, Any]:
    if endpoint_url and urlsplit(endpoint_url).hostname in _LOOPBACK:
        return dict(_EMULATOR_CREDENTIALS)
    return {}


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@functools.cache
def client(service: str) -> Any:
    settings = get_settings()
    extra: dict[str, Any] = {}
    if service == "s3":
        # Path-style URLs work against the local emulator and in every region.
        extra["config"] = _CLIENT_CONFIG.merge(Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    elif service == "dynamodbstreams":
        # The regional endpoint: the account-based one botocore now prefers is
        # unknown to moto (tests, the local stack); AWS answers on both.
        extra["config"] = _CLIENT_CONFIG.merge(Config(account_id_endpoint_mode="disabled"))
    else:
        extra["config"] = _CLIENT_CONFIG
    with _lock:  # boto3 sessions are not thread-safe while creating clients
        return _session().client(
            service,
            region_name=settings.region,
            endpoint_url=settings.aws_endpoint_url,
            **_credentials(settings.aws_endpoint_url),
            **extra,
        )


def reset_clients() -> None:
    """Drop cached clients (tests start a fresh moto per test)."""
    client.cache_clear()
    _session.cache_clear()
