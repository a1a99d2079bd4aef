"""The public web form endpoints (WEB-2, WEB-3): what strangers' browsers call.

No bearer token: the form's key names tenant and form. Unknown or disabled
keys are 404 whatever the reason. Domain rules live in domain/forms/intake.py.
"""

from __future__ import annotations

import json

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.domain.forms.limits import FORM_ENCODED, JSON, MAX_BODY_BYTES
from chalicelib.domain.shared.errors import Forbidden
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports
from chalicelib.observability import identify, logger

with lazy_imports():
    from chalicelib.handlers.forms import answers


bp = Blueprint(__name__)
TAG = "Web forms (public)"

NOT_IDEMPOTENT = (
    "Anonymous visitors have no principal to key replays by, and a browser's form post cannot send the header; "
    "a repeated submission is found by its e-mail or phone and lands in the same contact's history instead."
)


def _client_ip(call: Call) -> str:
    # API Gateway's own view of the peer; X-Forwarded-For is whatever the client wrote.
    identity = (call.request.context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


@route(
    bp,
    "/v1/forms/{key}",
    "POST",
    summary="Send a web form (public)",
    tag=TAG,
    public=True,
    not_idempotent=NOT_IDEMPOTENT,
    content_types=(FORM_ENCODED, JSON),
    status=201,
    errors=(404, 413, 415, 422, 429),
    description=f"Form-encoded (a browser's post: 303 to the form's return URL, or a page showing what to correct) "
    f"or JSON (201 `{{status, id, message}}`, problem+json otherwise). At most {MAX_BODY_BYTES // 1024} kB; 429 "
    "answers carry Retry-After. CORS for the form's allowed origins.",
)
def submit_form(key: str, call: Call) -> Response:
    intake = container().web_form_intake
    target = intake.open(key)
    identify(tenant_id=target.tenant.id)
    outcome = intake.submit(target, call.raw_body, call.header("content-type") or "", _client_ip(call))
    if outcome.dropped or outcome.deferred or outcome.error is not None:
        # Never the answers themselves (personal data): what happened, for the operators.
        logger.info(
            "web form submission",
            extra={
                "form_id": target.form.id,
                "dropped": outcome.dropped,
                "deferred": outcome.deferred,
                "refused": outcome.error.title if outcome.error else None,
            },
        )
    custom = intake.custom_fields(target) if outcome.error is not None else {}
    return answers.submitted(call, target, outcome, fresh_stamp=intake.fresh_stamp(target), custom=custom)


@route(
    bp,
    "/v1/forms/{key}",
    "OPTIONS",
    summary="CORS preflight of a web form's JavaScript post (public)",
    tag=TAG,
    public=True,
    status=204,
    errors=(403, 404),
)
def preflight(key: str, call: Call) -> Response:
    target = container().web_form_intake.open(key)
    origin = call.header("origin")
    method = (call.header("access-control-request-method") or "").upper()
    if not target.form.allows_origin(origin) or method != "POST":
        raise Forbidden("This origin may not post the form; an admin adds it to the form's allowed_origins.")
    headers: dict[str, str | list[str]] = {
        **answers.cors(target, call),
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type, Accept",
        "Access-Control-Max-Age": "600",
    }
    return Response(body="", status_code=204, headers=headers)


@route(
    bp,
    "/v1/forms/{key}",
    "GET",
    summary="The form as a page of its own, or its description as JSON (public)",
    tag=TAG,
    public=True,
    produces="text/html",
    errors=(404,),
    description="A page with a fresh fill-time stamp, for an iframe or a server-side include; with "
    "`Accept: application/json` the fields and a stamp, for hand-made forms.",
)
def form_page(key: str, call: Call) -> Response:
    from chalicelib.documents.web_forms import render_page

    intake = container().web_form_intake
    target = intake.open(key)
    form, stamp = target.form, intake.fresh_stamp(target)
    if answers.wants_json(call):
        fields = [{**f.model_dump(mode="json"), "input_name": f.input_name} for f in form.fields]
        body = {"name": form.name, "fields": fields, "consent_text": form.consent_text, "crm_stamp": stamp}
        headers: dict[str, str | list[str]] = {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            **answers.cors(target, call),
        }
        return Response(body=json.dumps(body), headers=headers)
    html = render_page(form, intake.custom_fields(target), action=answers.action_url(call, key), stamp=stamp)
    return answers.page(html)


@route(
    bp,
    "/v1/forms/{key}/embed.js",
    "GET",
    summary="The script of a web form's JavaScript variant (public)",
    tag=TAG,
    public=True,
    produces="application/javascript",
    errors=(404,),
)
def form_script(key: str, call: Call) -> Response:
    from chalicelib.documents.web_forms import render_script

    intake = container().web_form_intake
    target = intake.open(key)
    script = render_script(target.form, action=answers.action_url(call, key), stamp=intake.fresh_stamp(target))
    headers: dict[str, str | list[str]] = {
        "Content-Type": "application/javascript; charset=utf-8",
        "Cache-Control": "no-store",  # its stamp is made for this page view
        "X-Content-Type-Options": "nosniff",
    }
    return Response(body=script, headers=headers)
