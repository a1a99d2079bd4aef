"""What every queue consumer does first with a message: read its body and
put its kind, id and tenant in the log context (never the body: personal data);
and what it does with one that fails: one log line naming the message and why
(never the body's values either), then the failure goes to the batch processor,
which reports it, so SQS retries it and, after the queue's maxReceiveCount,
moves it to the dead-letter queue."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalicelib.observability import logger, start_job

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class PoisonMessage(ValueError):
    """A message no retry can help: not JSON, not an object, or of no kind the consumer knows."""


def read_message(record: SQSRecord) -> tuple[Any, str | None]:
    """The decoded body (None when it is not JSON) and its ``kind`` (None when absent)."""
    try:
        body = json.loads(record.body)
    except ValueError:
        body = None
    kind = body.get("kind") if isinstance(body, dict) else None
    tenant_id = body.get("tenant_id") if isinstance(body, dict) else None
    kind = kind if isinstance(kind, str) else None
    start_job(kind=kind, message_id=record.message_id, tenant_id=tenant_id if isinstance(tenant_id, str) else None)
    return body, kind


def known_kind(body: Any, kind: str | None, kinds: Any, what: str) -> str:
    """``kind`` when the consumer has a handler for it; else the message is poison."""
    if not isinstance(body, dict):
        raise PoisonMessage(f"{what} body is not a JSON object")
    if kind is None or kind not in kinds:
        # The kind is ours or a typo, never personal data; cut short all the same.
        raise PoisonMessage(f"unknown {what} kind {str(kind)[:40]!r}")
    return kind


def failure_reason(error: BaseException) -> str:
    """Why a message failed, without any value of its body: the fields a model
    refused and how, the poison's description, or the error's type."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        fields = [
            f"{'.'.join(str(part) for part in e['loc']) or '(body)'}: {e['type']}"
            for e in error.errors(include_url=False, include_input=False, include_context=False)[:5]
        ]
        return "invalid message: " + "; ".join(fields)
    if isinstance(error, PoisonMessage):
        return str(error)
    return type(error).__name__


def log_failure(what: str, error: BaseException, record: SQSRecord, *, expected: tuple[type, ...] = ()) -> None:
    """The one line a failed message leaves: its id and kind (the log context),
    the reason, and how often it was received (at the queue's maxReceiveCount
    it goes to the dead-letter queue). A bug logs its traceback as well."""
    from pydantic import ValidationError

    known = isinstance(error, (PoisonMessage, ValidationError, *expected))
    (logger.warning if known else logger.exception)(
        f"{what} failed",
        extra={
            "outcome": "failed",
            "error": type(error).__name__,
            "reason": failure_reason(error),
            "message_id": record.message_id,
            "receive_count": record.attributes.approximate_receive_count,
        },
    )
