"""The log redaction rules of chalicelib/observability.py (issue 19, point 6)."""

from __future__ import annotations

import logging
import uuid

import pytest

from chalicelib.observability import redact, register_secret

ULID = "01JD8Z6V3N4P5Q6R7S8T9V0W1X"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f"Authorization: Bearer crm_api.t1.u1.{ULID}.Zx9_abcdefghijklmnopqrstuvwxyz", "Zx9_abcdefghij"),
        (f"link https://crm.example/accept?token=crm_invite.t1.u1.{ULID}.s3cr3t-s3cr3t-s3cr3t", "s3cr3t-s3cr3t"),
        ('{"email": "a@b.example", "password": "hunter2 \\" with quote"}', "hunter2"),
        ("email=a%40b.example&password=hunter2hunter2&x=1", "hunter2hunter2"),
        ("{'new_password': 'correct horse battery'}", "correct horse"),
        (
            'b\'{"SecretString": "{\\\\"account_sid\\\\": \\\\"AC1\\\\", '
            '\\\\"auth_token\\\\": \\\\"tok-tok-tok\\\\"}"}\'',
            "tok-tok-tok",
        ),
        ("'X-Amz-Security-Token': b'session-token-value'", "session-token-value"),
        ("twilio token 0123456789abcdef0123456789abcdef in a message", "0123456789abcdef0123456789abcdef"),
        ("pay to DE89370400440532013000 today", "DE89370400440532013000"),
        ("pay to DE89 3704 0044 0532 0130 00 today", "3704 0044 0532"),
        ("GB82WEST12345698765432", "WEST12345698765432"),
    ],
)
def test_secrets_are_masked(line, secret):
    redacted = redact(line)
    assert secret not in redacted and "***" in redacted


def test_what_is_not_secret_stays_readable():
    sid = "AC" + uuid.uuid4().hex  # fresh: no other test registered it as a secret
    line = f"contact {ULID} of tenant t1 account {sid} status 429 DE89370400440532013001 AB12CDEFGHIJKLMNOP"
    assert redact(line) == line, "ids, Twilio SIDs and strings failing the IBAN checksum are kept"
    assert redact("pay to DE89370400440532013000") == "pay to DE***3000", "country and last four stay"
    assert redact(f"crm_api.t1.u1.{ULID}.secretsecret") == f"crm_api.t1.u1.{ULID}.***", "the token id stays"


def test_registered_values_are_masked_anywhere():
    register_secret("a-cursor-key-nobody-guesses")
    assert redact("key=a-cursor-key-nobody-guesses!") == "key=***!"
    assert redact("xa-cursor-key-nobody-guessesx").count("***") == 1
    register_secret("short")  # too short to mask safely: ignored
    assert redact("a short line") == "a short line"


def test_every_record_is_redacted_where_it_is_made(caplog):
    with caplog.at_level(logging.DEBUG, logger="some.library"):
        logging.getLogger("some.library").debug(
            "body %r", {"password": "p@ssw0rd-123"}, extra={"headers": {"Authorization": "Bearer abcdefgh12345678"}}
        )
    [record] = caplog.records
    assert "p@ssw0rd-123" not in record.getMessage() and record.args == ()
    assert record.headers == {"Authorization": "***"}
