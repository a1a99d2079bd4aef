"""What every queue consumer does first with a message: read its body and
put its kind, id and tenant in the log context (never the body: personal data)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalicelib.observability import start_job

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


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
