"""Settings from the environment: one frozen object, built on first use.

Read lazily (not at import) because Chalice's test client and `chalice local`
set the stage's environment only around a call.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_name: str
    bucket_name: str
    queue_prefix: str
    # Set for the local stack (moto server) only; None means real AWS.
    aws_endpoint_url: str | None
    # Where the key that signs page cursors comes from: the value itself
    # (tests, the local stack) or a Secrets Manager ARN (deployed stages).
    # Either is there or get_settings() refused; bootstrap's `cursor_secret` resolves it.
    cursor_secret_value: str = field(repr=False)
    cursor_secret_arn: str | None
    max_body_bytes: int
    log_level: str
    mail_from: str
    # Where people reach the API (links in e-mails); empty: relative links.
    public_url: str
    # The local stack's outbox: every e-mail sent is also written there as an .eml file.
    outbox_dir: str = ""
    # Each tenant's Twilio credentials are a Secrets Manager secret whose name
    # starts with this; the deployed roles may touch only those (VOIP-1).
    twilio_secret_prefix: str = "crm/twilio/"
    # The local stack's fake Twilio REST API (loopback), used for the fake's
    # accounts only; empty everywhere else: Twilio itself.
    twilio_fake_url: str = ""
    # Outgoing webhooks may go to loopback (also over http): the local stack's
    # and the tests' receivers. Only stages that never face the internet may
    # (CRM_WEBHOOKS_ALLOW_LOOPBACK is ignored everywhere else: SSRF guard).
    webhooks_allow_loopback: bool = False
    # The key that seals webhook signing secrets in the table: a value (tests,
    # the local stack: built in) or a Secrets Manager ARN (deployed stages).
    webhook_secret_value: str = field(default="", repr=False)
    webhook_secret_arn: str | None = None
    # SES configuration set whose bounce/complaint events reach the bounces queue (mass mailing, ADM-2).
    mail_configuration_set: str = ""
    # ---- limits (issue 19; README "Limits and security headers") ----
    # "<hits>/<seconds>" per bearer token, and per client address for callers
    # without a valid one (IPv6 by /64). Local and test stages get limits no
    # one reaches by accident; tests that mean to hit them set their own.
    rate_limit_token: str = "600/60"
    rate_limit_ip: str = "300/60"
    # Strict-Transport-Security: deployed stages only (the local stack is plain HTTP).
    hsts: bool = True

    def queue_name(self, logical: str) -> str:
        return f"{self.queue_prefix}{logical}"

    @property
    def cursor_secret_inline(self) -> bytes | None:
        """The cursor key when no lookup is needed: the value given, or the
        built-in one of local/test. None: it lives in Secrets Manager at
        `cursor_secret_arn`; the composition root reads it there, once per
        container, on first use (only the API signs cursors, so only its role
        may read the secret). Configuration itself never calls AWS."""
        if self.cursor_secret_value:
            return _never_logged(self.cursor_secret_value).encode()
        if self.cursor_secret_arn:
            return None
        return _BUILT_IN_CURSOR_SECRET.encode()


# Stages whose cursors nobody else ever sees. Every other stage is deployed
# (`dev` included): a known key would let anyone forge a cursor there.
BUILT_IN_SECRET_STAGES = frozenset({"local", "test"})
_BUILT_IN_CURSOR_SECRET = "local-and-test-only-cursor-secret"


class MissingSecret(RuntimeError):
    """A deployed stage started without its cursor secret: refuse to run
    rather than sign cursors with a key everyone can read in this file."""


def _cursor_secret_source(stage: str) -> tuple[str, str | None]:
    value = os.environ.get("CRM_CURSOR_SECRET", "")
    arn = os.environ.get("CRM_CURSOR_SECRET_ARN") or None
    if not value and not arn and stage not in BUILT_IN_SECRET_STAGES:
        raise MissingSecret(
            f"stage {stage!r} needs CRM_CURSOR_SECRET_ARN (a Secrets Manager secret) or "
            f"CRM_CURSOR_SECRET; only {sorted(BUILT_IN_SECRET_STAGES)} may use a built-in one"
        )
    return value, arn


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


@functools.cache
def get_settings() -> Settings:
    env = os.environ
    endpoint = env.get("CRM_AWS_ENDPOINT_URL") or None
    # Pointed at the local emulator (loopback), an unnamed stage is the local one.
    stage = env.get("CRM_STAGE") or ("local" if endpoint and _is_loopback(endpoint) else "dev")
    cursor_secret_value, cursor_secret_arn = _cursor_secret_source(stage)
    return Settings(
        stage=stage,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "eu-central-1",
        table_name=env.get("CRM_TABLE_NAME", "crm"),
        bucket_name=env.get("CRM_BUCKET_NAME", "crm-files"),
        queue_prefix=env.get("CRM_QUEUE_PREFIX", "crm-"),
        aws_endpoint_url=env.get("CRM_AWS_ENDPOINT_URL") or None,
        cursor_secret_value=cursor_secret_value,
        cursor_secret_arn=cursor_secret_arn,
        max_body_bytes=int(env.get("CRM_MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES))),
        log_level=env.get("CRM_LOG_LEVEL", "INFO"),
        mail_from=env.get("CRM_MAIL_FROM", "crm@example.com"),
        public_url=env.get("CRM_PUBLIC_URL", ""),
        outbox_dir=env.get("CRM_OUTBOX_DIR", ""),
        twilio_secret_prefix=env.get("CRM_TWILIO_SECRET_PREFIX") or "crm/twilio/",
        mail_configuration_set=env.get("CRM_MAIL_CONFIGURATION_SET", ""),
        twilio_fake_url=env.get("CRM_TWILIO_FAKE_URL", "") if _is_loopback(env.get("CRM_TWILIO_FAKE_URL", "")) else "",
        webhooks_allow_loopback=stage in BUILT_IN_SECRET_STAGES and env.get("CRM_WEBHOOKS_ALLOW_LOOPBACK") == "1",
        webhook_secret_value=env.get("CRM_WEBHOOK_SECRET", ""),
        webhook_secret_arn=env.get("CRM_WEBHOOK_SECRET_ARN") or None,
        **_limits(stage, env),
    )


# ---- limits and secrets (issue 19) ----


def _never_logged(secret: str) -> str:
    """The key is redacted from every log line (observability.register_secret)."""
    from chalicelib.observability import register_secret

    register_secret(secret)
    return secret


# JSON bodies: the largest legitimate one (a bulk change naming 5,000 ids, a
# 20,000-character history text escaped as \uXXXX) fits; routes taking
# bigger bodies say so (routing's ``max_body``: a contact photo).
DEFAULT_MAX_BODY_BYTES = 256 * 1024
# Per stage: the stages nobody else calls get limits no test or local session
# reaches by accident (one counter write per request is still made and its
# headers answered, so the mechanism runs everywhere).
_UNREACHABLE_RATE = "100000/60"


def _limits(stage: str, env: Mapping[str, str]) -> dict[str, Any]:
    built_in = stage in BUILT_IN_SECRET_STAGES
    return {
        "rate_limit_token": env.get("CRM_RATE_LIMIT_TOKEN") or (_UNREACHABLE_RATE if built_in else "600/60"),
        "rate_limit_ip": env.get("CRM_RATE_LIMIT_IP") or (_UNREACHABLE_RATE if built_in else "300/60"),
        "hsts": not built_in,
    }


def deploy_queue_name(logical: str) -> str:
    """A queue's real name when event sources are declared (import/deploy
    time, before any request): the same rule as Settings.queue_name."""
    return os.environ.get("CRM_QUEUE_PREFIX", "crm-") + logical


def reset_settings() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()
