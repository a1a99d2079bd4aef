"""The imports queue's consumer (IMP-2, IMP-3): its own function and queue,
so an import's chunks get their own timeout and concurrency and never wait
behind (or hold up) the jobs queue. Same pattern as the jobs consumer: a
Powertools batch with partial failures; each message is one chunk, which
stops between rows before the invocation's time runs out."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.config import deploy_queue_name
from chalicelib.handlers.background.consumer import process_job_batch
from chalicelib.observability import logger

bp = Blueprint(__name__)

IMPORT_QUEUE = "imports"


@bp.on_sqs_message(queue=deploy_queue_name(IMPORT_QUEUE), batch_size=1, name="imports")
def run_imports(event: Any) -> dict[str, Any]:
    logger.remove_keys(["tenant_id", "user_id"])
    return process_job_batch(event.to_dict(), getattr(event, "context", None))
