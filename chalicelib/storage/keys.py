"""Every key of the table, built in one place.

Base table: ``pk`` / ``sk``. Every ``pk`` starts with ``T#<tenant_id>#`` so a
tenant's data is structurally apart from every other tenant's. The only keys
that do not start with a tenant are those of the cross-tenant
``schedule`` index (time buckets, read by scheduled jobs) and the ``SYS#``
items of those jobs; a request path never queries them.

Access patterns (one per line: pattern -> table/index, key condition):

  system job checkpoint            -> table   pk=SYS#JOB#<name>, sk=STATE
  items expiring in an hour        -> schedule sched_pk=EXPIRY#<yyyy-mm-ddThh>, sched_sk<=<iso now>

Later issues add their lines here; nothing outside this module builds a key.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chalicelib.domain.clock import iso

EXPIRY_BUCKET_FORMAT = "%Y-%m-%dT%H"


def tenant_prefix(tenant_id: str) -> str:
    if not tenant_id or "#" in tenant_id:
        raise ValueError("invalid tenant id")
    return f"T#{tenant_id}#"


def job_state(name: str) -> dict[str, str]:
    return {"pk": f"SYS#JOB#{name}", "sk": "STATE"}


def expiry_bucket(moment: datetime) -> str:
    return "EXPIRY#" + moment.astimezone(timezone.utc).strftime(EXPIRY_BUCKET_FORMAT)


def expiry_buckets(since: datetime, until: datetime) -> list[str]:
    """Every hourly bucket from ``since`` through ``until``, oldest first."""
    start = since.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    buckets, moment = [], start
    while moment <= until:
        buckets.append(expiry_bucket(moment))
        moment += timedelta(hours=1)
    return buckets


def expiry_attributes(expires_at: datetime) -> dict[str, object]:
    """Attributes that make an item expire: DynamoDB TTL plus the schedule
    index entry housekeeping uses, since TTL may lag for days (and never runs
    on the local emulator)."""
    return {
        "ttl": int(expires_at.timestamp()),
        "sched_pk": expiry_bucket(expires_at),
        "sched_sk": iso(expires_at),
    }
