"""Settings from the environment: one frozen object, built on first use.

Read lazily (not at import) because Chalice's test client and `chalice local`
set the stage's environment only around a call.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_name: str
    bucket_name: str
    queue_prefix: str
    # Set for the local stack (moto server) only; None means real AWS.
    aws_endpoint_url: str | None
    cursor_secret: bytes
    max_body_bytes: int
    log_level: str
    mail_from: str
    # Where people reach the API (links in e-mails); empty: relative links.
    public_url: str

    def queue_name(self, logical: str) -> str:
        return f"{self.queue_prefix}{logical}"


_DEV_CURSOR_SECRET = "dev-only-cursor-secret-change-me"


def _cursor_secret(stage: str) -> bytes:
    secret = os.environ.get("CRM_CURSOR_SECRET", "")
    if not secret:
        if stage not in ("dev", "local", "test"):
            raise RuntimeError("CRM_CURSOR_SECRET must be set outside dev/local/test stages")
        secret = _DEV_CURSOR_SECRET
    return secret.encode()


@functools.cache
def get_settings() -> Settings:
    env = os.environ
    stage = env.get("CRM_STAGE", "dev")
    return Settings(
        stage=stage,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-central-1",
        table_name=env.get("CRM_TABLE_NAME", "crm"),
        bucket_name=env.get("CRM_BUCKET_NAME", "crm-files"),
        queue_prefix=env.get("CRM_QUEUE_PREFIX", "crm-"),
        aws_endpoint_url=env.get("CRM_AWS_ENDPOINT_URL") or None,
        cursor_secret=_cursor_secret(stage),
        max_body_bytes=int(env.get("CRM_MAX_BODY_BYTES", str(1024 * 1024))),
        log_level=env.get("CRM_LOG_LEVEL", "INFO"),
        mail_from=env.get("CRM_MAIL_FROM", "crm@example.com"),
        public_url=env.get("CRM_PUBLIC_URL", ""),
    )


def deploy_queue_name(logical: str) -> str:
    """A queue's real name when event sources are declared (import/deploy
    time, before any request): the same rule as Settings.queue_name."""
    return os.environ.get("CRM_QUEUE_PREFIX", "crm-") + logical


def reset_settings() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()
