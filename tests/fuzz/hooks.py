"""Schemathesis hooks for the fuzz run (loaded through SCHEMATHESIS_HOOKS by
tests/fuzz/run.py, which sets CRM_FUZZ_API and CRM_FUZZ_TOKEN).

Every request carries the demo owner's session token. Two operations would
otherwise take the rest of the run down with them; they are fuzzed like every
other, only their side effect is kept away from the shared session:
- POST /v1/auth/logout revokes the token it is called with: it gets a fresh
  personal API token of its own each time.
- PUT /v1/settings/crm-access may switch the CRM module off (403 on every CRM
  route afterwards): once it answered 200, the module is switched back on.
The run stays on the machine: a valid Twilio account SID in PUT
/v1/voip/account becomes one of the local fake's (AC and twenty zeros, then
the generated rest), so that the stack asks its loopback fake Twilio, never
api.twilio.com (offline a 503, online a stranger's API); invalid SIDs are sent
as generated.
Every answer is counted by operation and status into CRM_FUZZ_TALLY at exit,
for the runner's summary.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import threading
import urllib.request
from collections import Counter
from typing import Any

import schemathesis

from chalicelib.storage.twilio import FAKE_ACCOUNT_PREFIX


def _api() -> str:
    return os.environ["CRM_FUZZ_API"]


def _session() -> str:
    return os.environ["CRM_FUZZ_TOKEN"]


def _call(method: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(
        _api() + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {_session()}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


@schemathesis.auth(refresh_interval=None).apply_to(method="POST", path="/v1/auth/logout")
class ThrowawayToken:
    def get(self, case: Any, context: Any) -> str:
        return str(_call("POST", "/v1/tokens", {"name": "fuzz logout"})["token"])

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.auth()
class DemoOwnerSession:
    def get(self, case: Any, context: Any) -> str:
        return _session()

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.method.upper() == "PUT" and case.path == "/v1/voip/account" and isinstance(case.body, dict):
        sid = case.body.get("account_sid")
        if isinstance(sid, str) and _ACCOUNT_SID.match(sid):
            case.body["account_sid"] = FAKE_ACCOUNT_PREFIX + sid[len(FAKE_ACCOUNT_PREFIX) :]


# What was sent, for run.py's summary: requests per operation and status codes.
_operations: Counter[str] = Counter()
_statuses: Counter[str] = Counter()
_lock = threading.Lock()


def _write_tally() -> None:
    path = os.environ.get("CRM_FUZZ_TALLY")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump({"operations": _operations, "statuses": _statuses}, out)


atexit.register(_write_tally)


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    with _lock:
        _operations[f"{case.operation.method.upper()} {case.operation.path}"] += 1
        _statuses[str(response.status_code)] += 1
    if case.method.upper() == "PUT" and case.path == "/v1/settings/crm-access" and response.status_code == 200:
        _call("PUT", "/v1/settings/crm-access", {"enabled": True, "restricted": False, "user_ids": [], "group_ids": []})
