"""The one Powertools Logger. Structured JSON with request id and, once known,
tenant id. Request bodies are never logged (personal data). No Tracer on the
HTTP path: constructing one loads the X-Ray SDK (about 0.6 s)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter


class _RedactingFormatter(LambdaPowertoolsFormatter):
    """The JSON line as Powertools writes it, redacted once more as a whole
    (its exception text is formatted here, after the record was made)."""

    def format(self, record: Any) -> str:
        return redact(super().format(record))


logger = Logger(service="crm", logger_formatter=_RedactingFormatter())

_REQUEST_KEYS = ("request_id", "method", "route", "tenant_id", "user_id")
_JOB_KEYS = ("job_kind", "message_id", "tenant_id")


def start_request(*, request_id: str | None, method: str, route: str) -> None:
    logger.remove_keys(_REQUEST_KEYS)
    logger.append_keys(request_id=request_id, method=method, route=route)


def start_job(*, kind: str | None, message_id: str, tenant_id: str | None) -> None:
    """The context of one background message: its kind and tenant, never its body."""
    logger.remove_keys(_REQUEST_KEYS + _JOB_KEYS)
    logger.append_keys(job_kind=kind, message_id=message_id, tenant_id=tenant_id)


def end_job() -> None:
    logger.remove_keys(_JOB_KEYS)


def identify(*, tenant_id: str, user_id: str | None = None) -> None:
    logger.append_keys(tenant_id=tenant_id, user_id=user_id)


# ---- redaction (issue 19, point 6): no secret reaches a log line, at any level ----
#
# Installed once, here, at the one place every record is made
# (``logging.Logger.makeRecord``, the documented hook), so every logger, ours,
# Powertools' and libraries' (botocore logs whole request and response
# bodies at DEBUG), and every handler sees a record whose message, arguments,
# extra fields and exception text are already redacted. Patterns, not
# exclusions: bearer tokens (session, API, invitation) keep their public
# part and lose their secret; values under secret-looking keys (password,
# auth_token, SecretString, Authorization ...) in JSON, reprs and form
# bodies; Twilio-style 32-hex tokens; valid IBANs (checksum) keep country and
# last four; and any value registered with ``register_secret`` (the cursor
# key, tenants' Twilio tokens) wherever it appears.

import logging  # noqa: E402
import re  # noqa: E402
import threading  # noqa: E402

MASK = "***"
_SECRET_KEYS = (
    r"password|new_password|current_password|old_password|passwd|auth_?token|authtoken|secretstring|"
    r"secretbinary|secret|cursor_secret|client_secret|api_?key|x-amz-security-token|x-twilio-signature|"
    r"invitation_token|access_token|refresh_token|token|authorization"
)
_SECRET_KEY = re.compile(r"(?i)" + _SECRET_KEYS)
_BEARER = re.compile(r"(crm_[a-z]+\.[^\s.\"'\\/]+\.[^\s.\"'\\/]+\.[^\s.\"'\\/]+\.)[A-Za-z0-9_\-]+")
_AUTH_HEADER = re.compile(r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]{8,}")
# "key": "value" in JSON (escapes respected), then the tolerant form for reprs,
# escaped JSON inside strings (b'...\\"auth_token\\": \\"...\\"') and form bodies.
_JSON_PAIR = re.compile(r'(?i)("(?:' + _SECRET_KEYS + r')"\s*:\s*)"(?:[^"\\]|\\.)*"')
_LOOSE_PAIR = re.compile(
    r"(?i)(\b(?:" + _SECRET_KEYS + r")\b\\*[\"']?\s*[:=]\s*\\*b?[\"']?)(?!\*\*\*)[^\"'\\\s,;&}\]]+"
)
_HEX32 = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32}(?![0-9A-Za-z])")
_IBAN = re.compile(r"\b([A-Z]{2}\d{2})((?:[ ]?[A-Z0-9]){11,30})\b")
_known: set[str] = set()
_known_pattern: re.Pattern[str] | None = None
_known_lock = threading.Lock()
# The cursor key and the Twilio tokens a warm container has seen: a handful;
# bounded so a long-lived process cannot grow it without end.
_MAX_KNOWN = 1_000


def register_secret(value: str | bytes | None) -> None:
    """Redact this exact value wherever it appears in a log line from now on."""
    global _known_pattern
    text = value.decode(errors="ignore") if isinstance(value, bytes) else value
    if not text or len(text) < 8 or text in _known:
        return
    with _known_lock:
        if len(_known) < _MAX_KNOWN:
            _known.add(text)
            # One pass per line, longest first (a secret containing another is masked whole).
            _known_pattern = re.compile("|".join(re.escape(v) for v in sorted(_known, key=len, reverse=True)))


def _iban(match: re.Match[str]) -> str:
    country, rest = match.group(1), match.group(2).replace(" ", "")
    digits = "".join(str(int(c, 36)) for c in rest + country)
    if not digits.isdigit() or int(digits) % 97 != 1:
        return match.group(0)
    return f"{country[:2]}{MASK}{rest[-4:]}"


def redact(text: str) -> str:
    if not text:
        return text
    if _known_pattern is not None:
        text = _known_pattern.sub(MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _JSON_PAIR.sub(lambda m: m.group(1) + f'"{MASK}"', text)
    text = _LOOSE_PAIR.sub(lambda m: m.group(1) + MASK, text)
    text = _HEX32.sub(MASK, text)
    return _IBAN.sub(_iban, text)


def _redacted(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", errors="replace"))
    if depth > 4 or isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {k: MASK if _SECRET_KEY.fullmatch(str(k)) else _redacted(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_redacted(v, depth + 1) for v in value]
    text = str(value)
    redacted = redact(text)
    return value if redacted == text else redacted  # other objects keep their type unless they held a secret


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_make_record = logging.Logger.makeRecord


def _redacting_make_record(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _make_record(self, *args, **kwargs)
    if isinstance(record.msg, (dict, list)) and not record.args:
        record.msg = _redacted(record.msg)  # Powertools logs dicts as JSON objects: keep the shape
    else:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep its parts, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(str(message)), ()
    for key in [k for k in record.__dict__ if k not in _STANDARD]:
        record.__dict__[key] = _redacted(record.__dict__[key])
    if record.exc_info:
        # Formatters that use exc_text print this; ours also redacts what it formats itself.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    return record


def install_redaction() -> None:
    if logging.Logger.makeRecord is not _redacting_make_record:
        logging.Logger.makeRecord = _redacting_make_record  # type: ignore[method-assign]


install_redaction()
