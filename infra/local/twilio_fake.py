"""The local stack's Twilio: the fake REST API (chalicelib/storage/memory/twilio_api.py)
behind a loopback HTTP server, ``python -m infra.local.twilio_fake --port 4567``.

The CRM sends the requests of the fake's accounts here (``CRM_TWILIO_FAKE_URL``;
an account SID of AC and twenty zeros) and every other account's to Twilio.
Its one account is printed by `make run` (README "Telephony"); one number
waits in it to be linked. State (bought numbers, the TwiML app, API keys) is
kept in ``<data dir>/twilio-fake.json`` across restarts.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from chalicelib.storage.memory.twilio_api import API_HOST, FakeTwilioApi

DEMO_ACCOUNT_SID = "AC" + "0" * 28 + "c0de"
DEMO_AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
DEMO_OWNED_NUMBER = "+4930555099"
STATE_FILE = "twilio-fake.json"
log = logging.getLogger("local.twilio")


def build(data_dir: Path | None) -> FakeTwilioApi:
    api = FakeTwilioApi(accounts={DEMO_ACCOUNT_SID: DEMO_AUTH_TOKEN})
    state = data_dir / STATE_FILE if data_dir else None
    if state is not None and state.is_file():
        api.load(json.loads(state.read_text(encoding="utf-8")))
    elif api.number(DEMO_OWNED_NUMBER) is None:
        api.own(DEMO_ACCOUNT_SID, DEMO_OWNED_NUMBER)
    return api


def serve(api: FakeTwilioApi, host: str, port: int, data_dir: Path | None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)) if length else {}
            auth = None
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                auth = (user, password)
            status, headers, body = api.handle(self.command, API_HOST + self.path, None, form, auth)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if self.command != "GET" and data_dir is not None and status < 300:
                (data_dir / STATE_FILE).write_text(json.dumps(api.state()), encoding="utf-8")

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.command, self.path.split("?")[0])

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.twilio_fake", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4567)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="[twilio fake] %(message)s")
    server = serve(build(args.data_dir), args.host, args.port, args.data_dir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
