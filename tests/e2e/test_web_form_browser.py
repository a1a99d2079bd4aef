"""WEB-2/WEB-3 as a visitor meets them: the local stack (`make run`), a website
on another local origin that embeds a form's snippet, and Debian's chromium
driven by Playwright. The plain HTML form lands on the return URL; the
JavaScript variant answers inside the page. Both make the contact.

The browser is part of the test set-up (infra/system-packages.sh installs
chromium, requirements-dev.txt playwright): without it this test fails."""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.e2e.test_local_stack import DEMO, Stack, free_ports, http_json

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# The endpoint drops posts made sooner than this after the form's stamp (domain/forms/stamps.py).
FILL_SECONDS = 3.5


class Site:
    """A website of the CRM's customer: its own origin, pages held in memory."""

    def __init__(self, port: int):
        self.port = port
        self.pages: dict[str, str] = {"/thanks.html": "<!doctype html><title>Thanks</title><h1>Thank you</h1>"}

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page(self, path: str, title: str, snippet: str) -> str:
        self.pages[path] = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><main><h1>{title}</h1>{snippet}</main></body></html>"
        )
        return f"{self.origin}{path}"


@contextmanager
def serving(site: Site) -> Iterator[Site]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = site.pages.get(self.path.split("?")[0])
            self.send_response(200 if body is not None else 404)
            data = (body or "not found").encode()
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", site.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `sh infra/system-packages.sh` installs Debian's chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: `pip install -r requirements-dev.txt`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def wait_for_contact(api: str, token: str, email: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status, page = http_json("GET", f"{api}/v1/contacts?q={email}", token=token)
        assert status == 200, page
        if page["items"]:
            return page["items"][0]
        time.sleep(0.25)
    pytest.fail(f"no contact with {email} was made")


def fill(page: Any, first: str, last: str, email: str) -> None:
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Your message").fill("Please call me back.")
    page.get_by_label("I agree that you store my answers").check()


def test_a_visitor_sends_the_snippet_from_another_origin_in_a_real_browser(shared_stack: Stack) -> None:
    stack = shared_stack
    [site_port] = free_ports(1)
    site = Site(site_port)
    with serving(site):
        token = http_json("POST", f"{stack.api}/v1/auth/login", DEMO)[1]["token"]
        status, form = http_json(
            "POST",
            f"{stack.api}/v1/web-forms",
            {
                "name": "Contact us",
                "fields": [
                    {"field": "first_name", "required": True},
                    {"field": "last_name", "required": True},
                    {"field": "email", "required": True},
                    {"field": "description", "label": "Your message"},
                ],
                "tags": ["Website"],
                "return_url": f"{site.origin}/thanks.html",
                "consent_text": "I agree that you store my answers to contact me.",
                "thank_you_text": "Thanks, we will be in touch.",
            },
            token,
        )
        assert status == 201, form
        assert form["allowed_origins"] == [site.origin]
        snippets = {}
        for variant in ("html", "js"):
            status, html = _get_text(f"{stack.api}/v1/web-forms/{form['id']}/snippet?variant={variant}", token)
            assert status == 200, html
            snippets[variant] = html
        fetched_at = time.monotonic()
        plain_url = site.page("/contact.html", "Contact", snippets["html"])
        scripted_url = site.page("/contact-js.html", "Contact (JavaScript)", snippets["js"])

        with browser() as chromium:
            # The plain HTML form: a browser post, a 303 to the return URL on the site.
            page = chromium.new_page()
            page.goto(plain_url)
            fill(page, "Anna", "Browser", "anna.browser@example.de")
            time.sleep(max(0.0, FILL_SECONDS - (time.monotonic() - fetched_at)))
            page.get_by_role("button", name="Send").click()
            page.wait_for_url(f"{site.origin}/thanks.html")
            assert page.locator("h1").inner_text() == "Thank you"
            anna = wait_for_contact(stack.api, token, "anna.browser@example.de")
            assert (anna["first_name"], anna["last_name"], anna["tags"]) == ("Anna", "Browser", ["Website"])

            # The JavaScript variant: a fresh stamp on load, a CORS post of JSON, the answer in place.
            page = chromium.new_page()
            posts: list[str] = []
            page.on("request", lambda request: posts.append(request.method) if "/v1/forms/" in request.url else None)
            page.goto(scripted_url)
            page.wait_for_load_state("networkidle")
            fill(page, "Ben", "Script", "ben.script@example.de")
            page.wait_for_timeout(FILL_SECONDS * 1000)  # a person takes this long; the stamp is from page load
            page.get_by_role("button", name="Send").click()
            answer = page.locator("[data-crm-answer]")
            answer.filter(has_text="Thanks, we will be in touch.").wait_for(timeout=15_000)
            assert page.url == scripted_url, "the JavaScript variant stays on the page"
            assert page.get_by_label("First name").input_value() == "", "the sent form is cleared"
            # (Chromium makes the CORS preflight itself, out of Playwright's sight: tests/api checks it.)
            assert "POST" in posts
            ben = wait_for_contact(stack.api, token, "ben.script@example.de")
            assert (ben["first_name"], ben["last_name"]) == ("Ben", "Script")

            # A visitor who leaves out a required answer is told inline, and what they typed stays.
            page.goto(scripted_url)
            page.wait_for_load_state("networkidle")
            page.get_by_label("First name").fill("Cleo")
            page.get_by_label("Last name").fill("Careless")
            page.get_by_label("E-mail").fill("not-an-address")
            page.get_by_label("I agree that you store my answers").check()
            page.wait_for_timeout(FILL_SECONDS * 1000)
            # The browser's own check stops an invalid e-mail first; we want the server's answer here.
            page.evaluate("document.querySelector('form[data-crm-form]').noValidate = true")
            page.get_by_role("button", name="Send").click()
            answer.filter(has_text="Please check").wait_for(timeout=15_000)
            assert "E-mail" in answer.inner_text()
            assert page.get_by_label("E-mail").get_attribute("aria-invalid") == "true"
            assert page.get_by_label("First name").input_value() == "Cleo"


def _get_text(url: str, token: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
