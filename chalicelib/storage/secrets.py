"""Secrets Manager adapter: the value of a secret, read once per container.

The deployed template creates the secrets and gives each function only the
ARNs it may read (infra/aws/stack.py); values never travel in environment
variables or the template.
"""

from __future__ import annotations

import functools

from chalicelib.config import Settings
from chalicelib.observability import register_secret
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors


def read_secret(secret_id: str) -> str:
    """The current string value of a secret (name or ARN)."""
    with aws_errors():
        return str(client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])


@functools.cache
def _read_once(secret_id: str) -> str:
    """Once per container: every delivery signs, every new subscription seals."""
    return read_secret(secret_id)


def webhook_secret(settings: Settings) -> bytes:
    """Seals the webhook subscriptions' secrets. Read on first use, by the API
    (sealing a new secret) and the jobs function (signing a delivery) only; a
    deployed stage without it refuses."""
    from chalicelib.config import BUILT_IN_SECRET_STAGES, MissingSecret

    if settings.webhook_secret_value:
        return settings.webhook_secret_value.encode()
    if settings.webhook_secret_arn:
        return _read_once(settings.webhook_secret_arn).encode()
    if settings.stage in BUILT_IN_SECRET_STAGES:
        return b"local-and-test-only-webhook-secret"
    raise MissingSecret(f"stage {settings.stage!r} needs CRM_WEBHOOK_SECRET_ARN to seal webhook secrets")


def cursor_secret(settings: Settings) -> bytes:
    """The key that signs page cursors and seals idempotent answers: given in
    the settings, or read from Secrets Manager (callers keep it: the container
    reads it once)."""
    inline = settings.cursor_secret_inline
    if inline is not None:
        return inline
    assert settings.cursor_secret_arn  # get_settings() refuses a stage with neither
    value = read_secret(settings.cursor_secret_arn)
    register_secret(value)  # redacted from every log line, as a key given in the settings is
    return value.encode()
