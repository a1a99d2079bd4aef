"""Time from Twilio's voice webhook request to the TwiML answer (issue 16).

    python bench/voip_webhook.py [--runs 100]

In process, under moto (``mock_aws``, resources from the shared table spec)
and with Twilio's REST API answered by the fake transport: a tenant with its
Twilio account, a number with three operators (two online), a contact whose
phone calls in. Each run is one signed ``POST /twilio/<hook>/voice`` through
``chalice.test.Client`` (signature check with the library's
RequestValidator, number, presence, operators, the caller's contact by the
phone index, TwiML). The first request (imports, credentials read from
Secrets Manager) is timed apart; the median of ``--runs`` more is the figure,
next to ``GET /health`` measured the same way as the baseline (a ratio, so
machines compare). Twilio waits up to 15 s for an answer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

BENCH_ENV = {
    "CRM_STAGE": "test",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "CRM_TABLE_NAME": "crm-bench",
    "CRM_BUCKET_NAME": "crm-bench-files",
    "CRM_QUEUE_PREFIX": "crm-",
    "CRM_CURSOR_SECRET": "bench-cursor-secret",
    "CRM_PUBLIC_URL": "https://crm.example.com/api",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
SID = "AC" + "0" * 20 + "00000000be4c"
TOKEN = "b" * 32
PASSWORD = "bench-password-1"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    os.environ.update(BENCH_ENV)
    os.environ.pop("CRM_AWS_ENDPOINT_URL", None)
    from chalice.test import Client
    from moto import mock_aws
    from twilio.request_validator import RequestValidator

    from infra.emulator.dynamodb_patch import install

    install()
    with mock_aws():
        from app import app
        from chalicelib import bootstrap
        from chalicelib.cli import create_tenant
        from chalicelib.storage.dynamo.provision import create_resources
        from chalicelib.storage.memory.twilio_api import FakeTwilioApi, fake_http_client

        create_resources()
        bootstrap.container().override(twilio_http_client=fake_http_client(FakeTwilioApi(accounts={SID: TOKEN})))
        create_tenant("Bench", "owner@bench.example", owner_password=PASSWORD)
        with Client(app) as client:

            def call(method: str, path: str, token: str | None = None, body: Any = None) -> Any:
                headers = {"Content-Type": "application/json"}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                answer = getattr(client.http, method.lower())(
                    path, headers=headers, body=json.dumps(body) if body is not None else None
                )
                assert answer.status_code < 300, (path, answer.body)
                return json.loads(answer.body) if answer.body else None

            def login(email: str) -> str:
                return str(call("POST", "/v1/auth/login", body={"email": email, "password": PASSWORD})["token"])

            owner = login("owner@bench.example")
            call("PUT", "/v1/voip/account", owner, {"account_sid": SID, "auth_token": TOKEN})
            account = call("GET", "/v1/voip/account", owner)
            operators = []
            for name in ("anna", "ben", "carl"):
                user = call(
                    "POST",
                    "/v1/users",
                    owner,
                    {"email": f"{name}@bench.example", "name": name, "role": "user", "password": PASSWORD},
                )
                operators.append((user["id"], login(f"{name}@bench.example")))
            number = call(
                "POST",
                "/v1/voip/numbers",
                owner,
                {
                    "phone_number": "+4930555100",
                    "mode": "buy",
                    "greeting": "Welcome",
                    "operators": [{"user_id": uid} for uid, _ in operators],
                },
            )
            for _, token in operators[:2]:
                call("PUT", "/v1/voip/presence", token, {"status": "online"})
            call(
                "POST",
                "/v1/contacts",
                owner,
                {
                    "kind": "person",
                    "first_name": "Clara",
                    "last_name": "Caller",
                    "details": [{"type": "phone", "value": "+491705550100"}],
                    "access": "shared_read",
                },
            )
            path = account["webhook_base_url"].removeprefix(BENCH_ENV["CRM_PUBLIC_URL"]) + "/voice"
            validator = RequestValidator(TOKEN)

            def voice(n: int) -> float:
                params = {"CallSid": "CA" + f"{n:032x}", "From": "+491705550100", "To": number["phone_number"]}
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": validator.compute_signature(BENCH_ENV["CRM_PUBLIC_URL"] + path, params),
                }
                started = time.perf_counter()
                answer = client.http.post(path, headers=headers, body=urlencode(params))
                took = time.perf_counter() - started
                assert answer.status_code == 200 and b"<Client " in answer.body, answer.body
                return took

            def health() -> float:
                started = time.perf_counter()
                assert client.http.get("/health").status_code == 200
                return time.perf_counter() - started

            first = voice(0)
            health()
            webhook = [voice(n) for n in range(1, args.runs + 1)]
            baseline = [health() for _ in range(args.runs)]
    median, base = statistics.median(webhook), statistics.median(baseline)
    print(f"voice webhook -> TwiML, first request: {first * 1000:.1f} ms")
    print(
        f"voice webhook -> TwiML, median of {args.runs}: {median * 1000:.1f} ms "
        f"(p90 {statistics.quantiles(webhook, n=10)[-1] * 1000:.1f} ms)"
    )
    print(f"GET /health (baseline), median of {args.runs}: {base * 1000:.1f} ms; ratio {median / base:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
