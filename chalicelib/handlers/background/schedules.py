"""The scheduled functions: housekeeping every hour, task reminders every
minute (TSK-4). Each finds its due work with a Query and queues it."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

from chalicelib.bootstrap import container
from chalicelib.config import get_settings
from chalicelib.observability import logger

bp = Blueprint(__name__)


@bp.schedule(Rate(1, unit=Rate.HOURS), name="housekeeping")
def housekeeping_schedule(event: Any) -> dict[str, Any]:
    jobs = container().housekeeping.sweep()
    logger.info("housekeeping sweep queued", extra={"jobs": len(jobs), "stage": get_settings().stage})
    return {"queued": len(jobs)}


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="reminders")
def reminders_schedule(event: Any) -> dict[str, Any]:
    """TSK-4: queue a delivery for every reminder due by now."""
    queued = container().reminders.sweep()
    if queued:
        logger.info("reminders queued", extra={"queued": queued})
    return {"queued": queued}


@bp.schedule(Rate(15, unit=Rate.MINUTES), name="reports")
def reports_schedule(event: Any) -> dict[str, Any]:
    """Issue 17: queue the due scheduled reports (one job per slot; the slot's
    conditional write makes one report even when runs overlap) and the
    expiry of reports past the tenant's retention."""
    queued = container().reports.sweep()
    if queued:
        logger.info("report jobs queued", extra={"queued": queued})
    return {"queued": queued}
