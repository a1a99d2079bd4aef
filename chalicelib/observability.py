"""The one Powertools Logger. Structured JSON with request id and, once known,
tenant id. Request bodies are never logged (personal data). No Tracer on the
HTTP path: constructing one loads the X-Ray SDK (about 0.6 s)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="crm")

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
