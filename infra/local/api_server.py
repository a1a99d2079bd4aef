"""What `chalice local` answers that API Gateway does not: an HTTP method
Chalice has no handler for (TRACE, CONNECT, anything unknown) gets a 405
problem+json like every other refusal of the API, not http.server's bare 501.
Loaded by the local stack before `chalice local` starts (run.py)."""

from __future__ import annotations

import json

from chalice import local

ALLOWED = "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"


def _method_not_allowed(handler: local.ChaliceRequestHandler) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Method not allowed",
            "status": 405,
            "detail": f"{handler.command} is not supported; this API answers {ALLOWED}.",
        }
    ).encode()
    handler.send_response(405)
    handler.send_header("Content-Type", "application/problem+json")
    handler.send_header("Allow", ALLOWED)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


_send_error = local.ChaliceRequestHandler.send_error


def send_error(
    self: local.ChaliceRequestHandler, code: int, message: str | None = None, explain: str | None = None
) -> None:
    # http.server answers 501 exactly when it has no do_<METHOD> for the request.
    if code == 501 and getattr(self, "command", None):
        _method_not_allowed(self)
        return
    _send_error(self, code, message, explain)


local.ChaliceRequestHandler.send_error = send_error  # type: ignore[method-assign]
