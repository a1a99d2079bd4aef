"""SES bounce and complaint notifications (ADM-2).

On AWS, SES publishes the configuration set's bounce and complaint events to
an SNS topic whose SQS subscription feeds the ``bounces`` function; on the
local stack, the test hook (``POST /v1/mailings/bounces``) hands the same
notification to the same parser. The tenant is read from the ``X-CRM-Tenant``
header every mass mail carries (SES copies the headers into the event) or
from the message tag ``tenant``.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.mailing.models import Bounce


def _tenant(mail: dict[str, Any]) -> str | None:
    for header in mail.get("headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "x-crm-tenant":
            return str(header.get("value") or "") or None
    tags = mail.get("tags") or {}
    value = tags.get("tenant") if isinstance(tags, dict) else None
    if isinstance(value, list) and value:
        return str(value[0])
    return str(value) if isinstance(value, str) and value else None


def parse(body: str | dict[str, Any], *, tenant_id: str | None = None) -> Bounce | None:
    """A Bounce from an SNS envelope or the SES event itself; None when it is
    neither a bounce nor a complaint, or names no tenant. ``tenant_id``:
    the test hook's caller, which wins over whatever the body says."""
    data: Any = json.loads(body) if isinstance(body, str) else body
    if isinstance(data, dict) and data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        data = json.loads(data["Message"])  # SNS envelope (raw message delivery off)
    if not isinstance(data, dict):
        return None
    kind = data.get("notificationType") or data.get("eventType")
    found_mail = data.get("mail")
    mail: dict[str, Any] = found_mail if isinstance(found_mail, dict) else {}
    tenant = tenant_id or _tenant(mail)
    if not tenant:
        return None
    if kind == "Bounce":
        bounce = data.get("bounce") or {}
        addresses = [r.get("emailAddress") for r in bounce.get("bouncedRecipients") or [] if isinstance(r, dict)]
        permanent = bounce.get("bounceType") == "Permanent"
    elif kind == "Complaint":
        complaint = data.get("complaint") or {}
        addresses = [r.get("emailAddress") for r in complaint.get("complainedRecipients") or [] if isinstance(r, dict)]
        permanent = True  # a person who marks the mail as spam must not get the next one
    else:
        return None
    found = [a for a in addresses if isinstance(a, str) and "@" in a]
    return Bounce(tenant_id=tenant, addresses=found, permanent=permanent) if found else None


def sample(address: str, bounce_type: str = "Permanent") -> dict[str, Any]:
    """An SES bounce event for ``address`` (the local test hook's documented example)."""
    return {
        "notificationType": "Bounce",
        "bounce": {"bounceType": bounce_type, "bouncedRecipients": [{"emailAddress": address}]},
        "mail": {"headers": []},
    }
