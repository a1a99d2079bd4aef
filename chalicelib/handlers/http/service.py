"""Public service endpoints: health, the OpenAPI document and its viewer."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.bootstrap import container
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.handlers.http.views import Health


bp = Blueprint(__name__)

TAG = "Service"


@route(
    bp,
    "/health",
    "GET",
    summary="Readiness of the API and its storage",
    tag=TAG,
    response=Health,
    public=True,
    errors=(503,),
)
def health() -> Health:
    container().check_dependencies()
    return Health(status="ok")


@route(
    bp,
    "/openapi.json",
    "GET",
    summary="This API as OpenAPI 3.1",
    tag=TAG,
    public=True,
    description="With a bearer token, records' `custom_fields` list the caller's tenant's custom fields.",
)
def openapi_document(call: Call) -> Response:
    from chalicelib.handlers.http.openapi import document
    from chalicelib.handlers.http.openapi_custom_fields import for_caller

    body = for_caller(document(), call.header("authorization"))
    return Response(body=json.dumps(body), headers={"Content-Type": "application/json", "Vary": "Authorization"})


_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# The Swagger UI assets we serve; anything else under /docs/ is 404.
_ASSETS = {"swagger-ui.css": "text/css; charset=utf-8", "swagger-ui-bundle.js": "application/javascript; charset=utf-8"}


def _swagger_static_dir() -> Path:
    # Located without importing the package (its __init__ pulls in jinja2 and yaml).
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "static"


@route(
    bp,
    "/docs",
    "GET",
    summary="Human-readable API reference (renders offline)",
    tag=TAG,
    public=True,
    produces="text/html",
)
def docs(call: Call) -> Response:
    # Relative URLs (a stage prefix may precede /docs); "/docs/" reaches this
    # view too, and from there the assets are one level closer.
    requested = (call.request.context or {}).get("path") or ""
    trailing = requested.endswith("/")
    html = (_TEMPLATES / "docs.html").read_text(encoding="utf-8")
    html = html.replace("{assets}", "" if trailing else "docs/").replace(
        "{spec}", "../openapi.json" if trailing else "openapi.json"
    )
    return Response(body=html, headers={"Content-Type": "text/html; charset=utf-8", **_docs_policy(html)})


def _docs_policy(html: str) -> dict[str, str]:
    """The page's own CSP (issue 19): Swagger UI from our origin, its one inline
    script by hash, the spec fetched from our origin, never framed."""
    import base64
    import hashlib
    import re

    inline = [m for m in re.findall(r"<script>(.*?)</script>", html, flags=re.S)]
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline)
    policy = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {"Content-Security-Policy": policy, "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


@route(
    bp,
    "/docs/{asset}",
    "GET",
    summary="Assets of the API reference page",
    tag=TAG,
    public=True,
    produces="text/css",
    answers=((200, "application/javascript", None),),
    errors=(404,),
)
def docs_asset(asset: str) -> Response:
    from chalicelib.domain.shared.errors import NotFound

    if asset not in _ASSETS:
        raise NotFound("No such asset.")
    body = (_swagger_static_dir() / asset).read_text(encoding="utf-8")
    return Response(body=body, headers={"Content-Type": _ASSETS[asset], "Cache-Control": "public, max-age=86400"})
