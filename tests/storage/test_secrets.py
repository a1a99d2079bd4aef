"""Issue 10 item 8: a deployed stage reads its cursor secret from Secrets
Manager once per container, on first use; the settings alone never call AWS.
The stage rules are tests/unit/test_cursor_secret.py."""

from __future__ import annotations

import pytest

from chalicelib.config import get_settings, reset_settings


@pytest.fixture
def stage_env(monkeypatch: pytest.MonkeyPatch):
    def set_stage(stage: str, **env: str) -> None:
        monkeypatch.setenv("CRM_STAGE", stage)
        monkeypatch.delenv("CRM_CURSOR_SECRET", raising=False)
        monkeypatch.delenv("CRM_CURSOR_SECRET_ARN", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        reset_settings()

    yield set_stage
    reset_settings()


def test_a_deployed_stage_reads_its_secret_from_secrets_manager_once(aws, stage_env):
    from chalicelib.bootstrap import Container
    from chalicelib.storage.dynamo.aws import client

    arn = client("secretsmanager").create_secret(Name="crm-prod-cursor", SecretString="from-secrets-manager")["ARN"]
    stage_env("prod", CRM_CURSOR_SECRET_ARN=arn)
    built = Container(get_settings())
    assert built.cursor_secret == b"from-secrets-manager"
    # Once per container: a rotated value is picked up by new containers, not mid-flight.
    client("secretsmanager").put_secret_value(SecretId=arn, SecretString="rotated")
    assert built.cursor_secret == b"from-secrets-manager"
    # Settings alone never call AWS: the ARN is resolved by the composition root.
    assert get_settings().cursor_secret_inline is None
