"""Unknown paths answer 404 problem+json instead of API Gateway's 403
"Missing Authentication Token". Chalice has no greedy path parameter, so
catch-all routes cover every depth our API uses; concrete routes always win.
On AWS the template also maps the MISSING_AUTHENTICATION_TOKEN gateway
response to 404 for paths deeper than these."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.domain.shared.errors import PayloadTooLarge
from chalicelib.handlers.http.problems import from_error, problem
from chalicelib.handlers.http.routing import refuse_oversized

bp = Blueprint(__name__)

MAX_DEPTH = 6
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _not_found(**_: str) -> Response:
    try:
        refuse_oversized(bp.current_request.raw_body)  # the same size limit as every route (issue 19)
    except PayloadTooLarge as error:
        return from_error(error)
    return problem(404, "No such endpoint; see /openapi.json for the routes this API offers.")


for depth in range(1, MAX_DEPTH + 1):
    path = "/" + "/".join("{p%d}" % i for i in range(depth))
    bp.route(path, methods=_METHODS, content_types=["*/*"], name=f"not_found_{depth}")(_not_found)
