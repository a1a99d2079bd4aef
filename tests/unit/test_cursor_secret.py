"""Issue 10 item 8: a deployed stage never signs cursors with a built-in key.

Only `local` and `test` may; every other stage (`dev` included) refuses to
start without CRM_CURSOR_SECRET or a Secrets Manager ARN. Reading the secret
from Secrets Manager (once, on first use) is tests/storage/test_secrets.py."""

from __future__ import annotations

import pytest

from chalicelib.config import BUILT_IN_SECRET_STAGES, MissingSecret, get_settings, reset_settings


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


@pytest.mark.parametrize("stage", ["dev", "prod", "staging"])
def test_a_deployed_stage_without_a_cursor_secret_refuses_to_start(stage_env, stage):
    stage_env(stage)
    with pytest.raises(MissingSecret, match="CRM_CURSOR_SECRET"):
        get_settings()


def test_only_local_and_test_have_a_built_in_secret(stage_env):
    assert BUILT_IN_SECRET_STAGES == {"local", "test"}
    stage_env("local")
    built_in = get_settings().cursor_secret_inline
    stage_env("test")
    assert get_settings().cursor_secret_inline == built_in


def test_an_explicit_secret_wins_and_is_not_in_the_settings_repr(stage_env):
    stage_env("prod", CRM_CURSOR_SECRET="s3cr3t-from-the-environment")
    settings = get_settings()
    assert settings.cursor_secret_inline == b"s3cr3t-from-the-environment"
    assert "s3cr3t" not in repr(settings)
