"""/docs renders Swagger UI under its own Content-Security-Policy (issue 19) in
Debian's chromium against the local stack: the page's inline script runs (it
is allowed by hash), the assets and the spec come from our origin, and the
browser reports no policy violation."""

from __future__ import annotations

from tests.e2e.test_local_stack import Stack
from tests.e2e.test_web_form_browser import browser


def test_the_api_reference_renders_under_its_policy(shared_stack: Stack) -> None:
    stack = shared_stack
    with browser() as chromium:
        page = chromium.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        answer = page.goto(f"{stack.api}/docs")
        assert answer is not None and answer.status == 200
        assert "script-src 'self' 'sha256-" in answer.headers["content-security-policy"]
        # Generous: the first /openapi.json of a fresh stack builds the whole document, on a shared machine.
        page.wait_for_selector(".swagger-ui .info .title", timeout=90_000)
        assert "CRM" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector(".opblock-tag", timeout=90_000)  # the spec was fetched and rendered
        violations = [line for line in console if "Content Security Policy" in line or "Refused to" in line]
        assert not violations, violations
