"""No secret in any log line (issue 19, point 6).

Every record of every logger (ours through Powertools, botocore's request and
response bodies, moto, the twilio library ...) at every level, DEBUG
included, is captured during a broad run of the API: logins right and
wrong, API tokens, an invitation (and its e-mail), password changes, paged
lists with cursors, a Twilio account stored and tested, a web form post,
IBANs in settings and records. No password, bearer token, API token
secret, invitation token, Twilio auth token, the cursor key or a full IBAN
may appear in any captured line. Redaction happens in the one logging setup
(chalicelib/observability.py); nothing here is excluded."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import OWNER_PASSWORD, Tenant, bearer, sent_emails

IBAN = "DE89370400440532013000"
IBAN_SPACED = "DE89 3704 0044 0532 0130 00"
CURSOR_SECRET = "test-cursor-secret"  # tests/conftest.py TEST_ENV


class Lines(list[str]):
    def containing(self, text: str) -> list[str]:
        return [line for line in self if text in line]


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """Every record at every level, as the Powertools formatter writes it and
    as the raw record (message, arguments, extra fields, exception text)."""
    from chalicelib.observability import logger as crm_logger

    lines = Lines()
    formatter = crm_logger.registered_formatter

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))
            raw = {key: repr(value) for key, value in vars(record).items()}
            raw["formatted_message"] = record.getMessage()
            lines.append(json.dumps(raw))

    handler = Capture(level=logging.DEBUG)
    root, crm = logging.getLogger(), logging.getLogger(crm_logger.name)
    levels = (root.level, crm.level)
    root.setLevel(logging.DEBUG)
    crm_logger.setLevel("DEBUG")
    root.addHandler(handler)
    if not crm.propagate:
        crm.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        crm.removeHandler(handler)
        root.setLevel(levels[0])
        crm.setLevel(levels[1])


def _ok(answer: tuple[int, Any, dict[str, str]], *statuses: int) -> Any:
    status, body, _ = answer
    assert status in (statuses or (200, 201, 204)), body
    return body


def test_no_secret_reaches_any_log_line(twilio, api, run_jobs, log_lines):
    from chalicelib.bootstrap import container
    from tests.api.test_web_forms_api import ANNA, Clock, make_form, post_json, stamp_for
    from tests.voip_helpers import ACCOUNT_SID, AUTH_TOKEN

    clock = Clock()
    container().override(web_form_clock=clock)
    secrets: dict[str, str] = {"owner password": OWNER_PASSWORD, "cursor key": CURSOR_SECRET}

    # Logins, right and wrong; an API token and its use.
    tenant = Tenant(api, "Acme", "owner@acme.example")
    secrets["session token"] = tenant.owner_token
    _ok(api.call("POST", "/v1/auth/login", {"email": tenant.owner_email, "password": "wrong-guess-123"}), 401)
    secrets["wrong password"] = "wrong-guess-123"
    created = _ok(api.call("POST", "/v1/tokens", {"name": "ci"}, headers=bearer(tenant.owner_token)))
    api_token = created["token"]
    secrets["api token"] = api_token
    _ok(api.call("GET", "/v1/me", headers=bearer(api_token)))
    _ok(api.call("GET", "/v1/me", headers=bearer(api_token[:-3] + "xyz")), 401)

    # An invitation, its e-mail, its acceptance; a password change.
    invited = _ok(
        api.call("POST", "/v1/users", {"email": "inv@acme.example", "name": "Inv"}, headers=bearer(tenant.owner_token))
    )
    invitation = invited["invitation_token"]
    secrets["invitation token"] = invitation
    run_jobs()
    assert any(invitation in m.body for m in sent_emails()), "the invitation travelled by e-mail (and was logged)"
    _ok(api.call("POST", "/v1/auth/accept-invitation", {"token": invitation, "password": "invited-password-1"}))
    secrets["invited password"] = "invited-password-1"
    user_id, user_token = tenant.add_user("u@acme.example", password="user-password-77")
    secrets["user password"], secrets["user token"] = "user-password-77", user_token
    version = _ok(api.call("GET", f"/v1/users/{user_id}", headers=bearer(tenant.owner_token)))["version"]
    _ok(
        api.call(
            "PATCH",
            f"/v1/users/{user_id}",
            {"password": "changed-password-88"},
            headers=bearer(tenant.owner_token, **{"If-Match": f'"{version}"'}),
        )
    )
    secrets["changed password"] = "changed-password-88"
    tenant.login("u@acme.example", "changed-password-88")

    # IBANs in settings (the invoice company profile, a list entry) and records; lists paged with cursors.
    from tests.api.test_invoices_api import SETTINGS as INVOICE_SETTINGS

    assert INVOICE_SETTINGS["iban"] == IBAN_SPACED
    _ok(api.call("PUT", "/v1/settings/invoices", INVOICE_SETTINGS, headers=bearer(tenant.owner_token)))
    assert _ok(api.call("GET", "/v1/settings/invoices", headers=bearer(tenant.owner_token)))["iban"] == IBAN
    _ok(
        api.call(
            "POST", "/v1/settings/contact-types", {"name": f"Bank {IBAN_SPACED}"}, headers=bearer(tenant.owner_token)
        )
    )
    for n in range(3):
        body = {"kind": "person", "first_name": "Anna", "last_name": f"N{n}", "description": f"IBAN {IBAN}"}
        _ok(api.call("POST", "/v1/contacts", body, headers=bearer(tenant.owner_token)))
    page = _ok(api.call("GET", "/v1/contacts?limit=1", headers=bearer(tenant.owner_token)))
    cursor = page["next_cursor"]
    assert cursor
    _ok(api.call("GET", f"/v1/contacts?limit=1&cursor={cursor}", headers=bearer(tenant.owner_token)))
    _ok(api.call("GET", f"/v1/contacts?limit=1&cursor={cursor}x", headers=bearer(tenant.owner_token)), 400)

    # The Twilio account: stored in Secrets Manager, read back, tested against the API.
    account = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}
    _ok(api.call("PUT", "/v1/voip/account", account, headers=bearer(tenant.owner_token)))
    _ok(api.call("POST", "/v1/voip/account/test", headers=bearer(tenant.owner_token)))
    secrets["twilio auth token"] = AUTH_TOKEN

    # A web form post, with a bank account in the message.
    form = make_form(api, tenant)
    stamp = stamp_for(api, form["key"])
    clock.advance(10)
    _ok(post_json(api, form["key"], {**ANNA, "description": f"Pay to {IBAN_SPACED}", "crm_stamp": stamp}), 201)

    _ok(api.call("POST", "/v1/auth/logout", headers=bearer(tenant.owner_token)))

    # The capture worked: DEBUG lines of the libraries that carry bodies are in it.
    assert len(log_lines) > 200
    assert log_lines.containing("DEBUG"), "DEBUG records were captured"
    assert log_lines.containing("SecretString"), "the Secrets Manager calls were logged (redacted)"
    assert log_lines.containing("DE***3000"), "the IBANs were logged, redacted"
    assert log_lines.containing("crm_invite."), "the invitation e-mail was logged: the token's public part only"

    forms = {
        **secrets,
        "full IBAN": IBAN,
        "spaced IBAN": IBAN_SPACED,
        **{f"{name} (secret part)": value.rsplit(".", 1)[-1] for name, value in secrets.items() if "token" in name},
    }
    leaks = {name: log_lines.containing(value)[:2] for name, value in forms.items() if log_lines.containing(value)}
    assert not leaks, json.dumps(leaks, indent=1)[:4000]
