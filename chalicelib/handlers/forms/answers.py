"""How the public form endpoint answers (WEB-3): JSON for scripts, pages and
redirects for browsers, CORS headers for the form's allowed origins only."""

from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib.config import get_settings
from chalicelib.domain.forms.intake import Outcome, PublicForm
from chalicelib.domain.shared import errors
from chalicelib.handlers.http import problems
from chalicelib.handlers.http.routing import Call

HTML = "text/html; charset=utf-8"
# Our pages load nothing and run nothing; they may be framed (the hosted form in an iframe).
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors *"
NOTICES = {
    422: "Some answers are missing or need a correction; they are marked below.",
    429: "Too many submissions just now. Please wait {retry_after} seconds, then send the form again: "
    "your answers are kept below.",
    413: "The answers are too long to be sent. Please shorten them and send the form again.",
}
GENERIC_NOTICE = "The form could not be sent. Please check your answers and send it again."


def api_base(call: Call) -> str:
    """Where strangers reach this API: CRM_PUBLIC_URL, else what the request came to."""
    public_url = get_settings().public_url
    if public_url:
        return public_url.rstrip("/")
    context = call.request.context or {}
    domain, stage = context.get("domainName"), context.get("stage")
    if domain and stage and str(domain).endswith(".amazonaws.com"):
        return f"https://{domain}/{stage}"
    if domain:
        return f"https://{domain}"
    return f"http://{call.header('host') or '127.0.0.1'}"


def action_url(call: Call, key: str) -> str:
    return f"{api_base(call)}/v1/forms/{key}"


def cors(target: PublicForm, call: Call) -> dict[str, str]:
    origin = call.header("origin")
    headers = {"Vary": "Origin"}
    if target.form.allows_origin(origin):
        headers.update({"Access-Control-Allow-Origin": str(origin), "Access-Control-Expose-Headers": "Retry-After"})
    return headers


def wants_json(call: Call, outcome: Outcome | None = None) -> bool:
    if outcome is not None and outcome.is_json:
        return True
    content_type = (call.header("content-type") or "").lower()
    accept = (call.header("accept") or "").lower()
    return content_type.startswith("application/json") or ("application/json" in accept and "text/html" not in accept)


def page(body: str, status: int = 200, **headers: str) -> Response:
    return Response(
        body=body,
        status_code=status,
        headers={
            "Content-Type": HTML,
            "Cache-Control": "no-store",
            "Content-Security-Policy": PAGE_POLICY,
            "X-Content-Type-Options": "nosniff",
            **headers,
        },
    )


def submitted(call: Call, target: PublicForm, outcome: Outcome, *, fresh_stamp: str, custom: Any) -> Response:
    """The answer to a POST: the same whether the visitor was a new contact,
    an existing one or a bot that was dropped."""
    form = target.form
    headers = cors(target, call)
    as_json = wants_json(call, outcome)
    error = outcome.error
    if error is None:
        if as_json:
            body = {"status": "received", "id": outcome.submission_id, "message": form.thank_you_text or "Thank you."}
            return Response(
                body=json.dumps(body), status_code=201, headers={"Content-Type": "application/json", **headers}
            )
        return Response(body="", status_code=303, headers={"Location": form.return_url, "Cache-Control": "no-store"})
    status = problems.status_of(error)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if as_json:
        answer = problems.from_error(error)
        answer.headers.update(headers)
        if retry_after is not None:
            payload = json.loads(answer.body)
            answer.body = json.dumps({**payload, "retry_after": retry_after})
        return answer
    from chalicelib.documents.web_forms import render_page

    field_errors = {e.field: e.message for e in error.errors} if isinstance(error, errors.ValidationFailed) else {}
    notice = NOTICES.get(status, GENERIC_NOTICE).format(retry_after=retry_after or 60)
    referer = call.header("referer")
    back = referer if referer and form.allows_origin(_origin(referer)) else None
    body = render_page(
        form,
        custom,
        action=action_url(call, form.key),
        stamp=outcome.stamp or fresh_stamp,  # the visitor's own stamp: the time they spent counts
        values=outcome.values if status != 413 else {},
        errors=field_errors,
        notice=notice,
        back_url=back,
    )
    return page(body, status, **{k: v for k, v in headers.items() if k == "Retry-After"})


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
