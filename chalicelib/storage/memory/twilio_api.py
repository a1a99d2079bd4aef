"""A fake of the Twilio REST endpoints the CRM uses, for tests and the local stack.

It answers what api.twilio.com answers for them (paths, form fields, JSON
shapes, status codes, error bodies), so the real twilio library runs
unchanged on top of it:

    GET    /2010-04-01/Accounts/{AC}.json                      the account (the credentials check)
    POST   /2010-04-01/Accounts/{AC}/Keys.json                 a new API key (its secret shown once)
    POST   /2010-04-01/Accounts/{AC}/Applications[/{AP}].json  create / update a TwiML app
    GET    /2010-04-01/Accounts/{AC}/AvailablePhoneNumbers/{CC}/{Local|Mobile|TollFree}.json
    GET    /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers.json  the account's numbers (?PhoneNumber=)
    POST   /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers[/{PN}].json  buy / update a number
    DELETE /2010-04-01/Accounts/{AC}/IncomingPhoneNumbers/{PN}.json    release it
    GET    /2010-04-01/Accounts/{AC}/Calls/{CA}.json           a call with its price
    GET    /2010-04-01/Accounts/{AC}/Recordings/{RE}.mp3       the recording's audio
    DELETE /2010-04-01/Accounts/{AC}/Recordings/{RE}.json      delete it (404 the second time)

Every request needs HTTP Basic auth of a known account (401, Twilio's error
20003 otherwise). Calls and recordings are not simulated end to end: every
well-formed call SID is a finished call priced at 0.013 per started minute
(``calls`` overrides), every recording SID has a few bytes of audio until it
is deleted. ``FakeTwilioHttpClient`` puts it behind the library's HttpClient
(tests); infra/local/twilio_fake.py behind a loopback HTTP server (make run).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_HOST = "https://api.twilio.com"
_ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})(/.*)?\.(json|mp3|wav)$")
_TYPES = {"Local": "local", "Mobile": "mobile", "TollFree": "toll_free"}
# A few bytes that start like an MP3 file (ID3 header): enough to be stored and served.
FAKE_AUDIO = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256))


def _sid(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


@dataclass
class FakeTwilioApi:
    accounts: dict[str, str]  # account SID -> auth token
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)  # PN sid -> record
    applications: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)  # overrides of the default finished call
    deleted_recordings: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) seen, oldest first
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ---- setting the scene ----

    def own(self, account_sid: str, phone_number: str, **settings: Any) -> dict[str, Any]:
        """A number the account has already (to be linked)."""
        record = self._number_record(account_sid, phone_number, {})
        record.update(settings)
        self.numbers[record["sid"]] = record
        return record

    def number(self, phone_number: str) -> dict[str, Any] | None:
        return next((n for n in self.numbers.values() if n["phone_number"] == phone_number), None)

    def state(self) -> dict[str, Any]:
        return {
            "numbers": self.numbers,
            "applications": self.applications,
            "keys": self.keys,
            "calls": self.calls,
            "deleted_recordings": sorted(self.deleted_recordings),
        }

    def load(self, state: dict[str, Any]) -> None:
        self.numbers = dict(state.get("numbers", {}))
        self.applications = dict(state.get("applications", {}))
        self.keys = dict(state.get("keys", {}))
        self.calls = dict(state.get("calls", {}))
        self.deleted_recordings = set(state.get("deleted_recordings", []))

    # ---- the API ----

    def handle(
        self, method: str, url: str, params: dict[str, Any] | None, data: dict[str, Any] | None, auth: Any
    ) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(url).path
        query = dict(parse_qsl(urlsplit(url).query))
        query.update({k: str(v) for k, v in (params or {}).items() if v is not None})
        form = {k: str(v) for k, v in (data or {}).items() if v is not None}
        with self._lock:
            self.requests.append((method.upper(), path))
            match = _ACCOUNT.match(path)
            if not match:
                return self._error(404, 20404, "The requested resource was not found")
            account_sid, rest, suffix = match.group(1), match.group(2) or "", match.group(3)
            if not auth or tuple(auth)[0] != account_sid or self.accounts.get(account_sid) != tuple(auth)[1]:
                return self._error(401, 20003, "Authenticate")
            return self._route(method.upper(), account_sid, rest, suffix, query, form)

    def _route(
        self, method: str, account: str, rest: str, suffix: str, query: dict[str, str], form: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        parts = [p for p in rest.split("/") if p]
        if not parts and method == "GET":
            return self._json(200, {"sid": account, "friendly_name": "Fake Twilio account", "status": "active"})
        head = parts[0] if parts else ""
        if head == "Keys" and len(parts) == 1 and method == "POST":
            sid = _sid("SK", account, str(len(self.keys)))
            record = {"sid": sid, "friendly_name": form.get("FriendlyName"), "secret": _sid("", sid, "secret")}
            self.keys[sid] = {"sid": sid, "friendly_name": record["friendly_name"]}
            return self._json(201, record)
        if head == "Applications":
            return self._applications(method, account, parts[1:], form)
        if head == "AvailablePhoneNumbers" and len(parts) == 3 and method == "GET":
            return self._available(parts[1], parts[2], query)
        if head == "IncomingPhoneNumbers":
            return self._incoming(method, account, parts[1:], query, form)
        if head == "Calls" and len(parts) == 2 and method == "GET":
            return self._call(account, parts[1])
        if head == "Recordings" and len(parts) == 2:
            return self._recording(method, parts[1], suffix)
        return self._error(404, 20404, "The requested resource was not found")

    def _applications(
        self, method: str, account: str, parts: list[str], form: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if method != "POST" or len(parts) > 1:
            return self._error(405, 20004, "Method not allowed")
        if parts:
            record = self.applications.get(parts[0])
            if record is None or record["account_sid"] != account:
                return self._error(404, 20404, "The requested resource was not found")
            status = 200
        else:
            sid = _sid("AP", account, str(len(self.applications)))
            record = self.applications[sid] = {"sid": sid, "account_sid": account}
            status = 201
        for name, key in (
            ("FriendlyName", "friendly_name"),
            ("VoiceUrl", "voice_url"),
            ("VoiceMethod", "voice_method"),
            ("StatusCallback", "status_callback"),
            ("StatusCallbackMethod", "status_callback_method"),
        ):
            if name in form:
                record[key] = form[name]
        return self._json(status, record)

    def _available(self, country: str, kind: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if kind not in _TYPES or not re.match(r"^[A-Z]{2}$", country):
            return self._error(404, 20404, "The requested resource was not found")
        import phonenumbers

        code = phonenumbers.country_code_for_region(country) or 1
        trunk = {"local": "30", "mobile": "151", "toll_free": "800"}[_TYPES[kind]]
        owned = {n["phone_number"] for n in self.numbers.values()}
        offer = [f"+{code}{trunk}{5550100 + n}" for n in range(40)]
        wanted = query.get("Contains", "").replace("*", "")
        listed = [p for p in offer if p not in owned and wanted in p][: int(query.get("PageSize", "20"))]
        return self._json(
            200,
            {
                "available_phone_numbers": [
                    {
                        "friendly_name": p,
                        "phone_number": p,
                        "locality": "Fakeville",
                        "region": None,
                        "iso_country": country,
                        "capabilities": {"voice": True, "SMS": False, "MMS": False},
                    }
                    for p in listed
                ],
                "uri": f"/2010-04-01/AvailablePhoneNumbers/{country}/{kind}.json",
            },
        )

    def _number_record(self, account: str, phone_number: str, form: dict[str, str]) -> dict[str, Any]:
        return {
            "sid": _sid("PN", account, phone_number),
            "account_sid": account,
            "phone_number": phone_number,
            "friendly_name": form.get("FriendlyName") or phone_number,
            "voice_url": form.get("VoiceUrl", ""),
            "voice_method": form.get("VoiceMethod", "POST"),
            "status_callback": form.get("StatusCallback", ""),
            "status_callback_method": form.get("StatusCallbackMethod", "POST"),
            "capabilities": {"voice": True},
        }

    def _incoming(
        self, method: str, account: str, parts: list[str], query: dict[str, str], form: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if not parts and method == "GET":
            mine = [n for n in self.numbers.values() if n["account_sid"] == account]
            if "PhoneNumber" in query:
                mine = [n for n in mine if n["phone_number"] == query["PhoneNumber"]]
            return self._json(
                200,
                {
                    "incoming_phone_numbers": mine,
                    "page": 0,
                    "page_size": 50,
                    "next_page_uri": None,
                    "uri": f"/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json",
                },
            )
        if not parts and method == "POST":
            phone = form.get("PhoneNumber", "")
            if not re.match(r"^\+[1-9][0-9]{6,14}$", phone):
                return self._error(400, 21421, "PhoneNumber is invalid")
            if self.number(phone) is not None:
                return self._error(400, 21422, "PhoneNumber is not available")
            record = self._number_record(account, phone, form)
            self.numbers[record["sid"]] = record
            return self._json(201, record)
        record = self.numbers.get(parts[0]) if len(parts) == 1 else None
        if record is None or record["account_sid"] != account:
            return self._error(404, 20404, "The requested resource was not found")
        if method == "DELETE":
            del self.numbers[record["sid"]]
            return 204, {}, b""
        if method == "POST":
            for name, key in (
                ("FriendlyName", "friendly_name"),
                ("VoiceUrl", "voice_url"),
                ("VoiceMethod", "voice_method"),
                ("StatusCallback", "status_callback"),
                ("StatusCallbackMethod", "status_callback_method"),
            ):
                if name in form:
                    record[key] = form[name]
        return self._json(200, record)

    def _call(self, account: str, sid: str) -> tuple[int, dict[str, str], bytes]:
        if not re.match(r"^CA[0-9a-fA-F]{32}$", sid):
            return self._error(404, 20404, "The requested resource was not found")
        record = {
            "sid": sid,
            "account_sid": account,
            "status": "completed",
            "duration": "60",
            "price": "-0.01300",
            "price_unit": "USD",
            **self.calls.get(sid, {}),
        }
        return self._json(200, record)

    def _recording(self, method: str, sid: str, suffix: str) -> tuple[int, dict[str, str], bytes]:
        if not re.match(r"^RE[0-9a-fA-F]{32}$", sid) or sid in self.deleted_recordings:
            return self._error(404, 20404, "The requested resource was not found")
        if method == "DELETE" and suffix == "json":
            self.deleted_recordings.add(sid)
            return 204, {}, b""
        if method == "GET" and suffix in ("mp3", "wav"):
            return 200, {"Content-Type": "audio/mpeg" if suffix == "mp3" else "audio/x-wav"}, FAKE_AUDIO + sid.encode()
        return self._json(200, {"sid": sid, "status": "completed"})

    @staticmethod
    def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

    @staticmethod
    def _error(status: int, code: int, message: str) -> tuple[int, dict[str, str], bytes]:
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
        return status, {"Content-Type": "application/json"}, json.dumps({**body, "status": status}).encode()


def fake_http_client(api: FakeTwilioApi) -> Any:
    """The twilio library's HttpClient, answered by ``api`` in process."""
    import logging

    from twilio.http import HttpClient
    from twilio.http.response import Response

    class FakeTwilioHttpClient(HttpClient):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(logging.getLogger("crm.twilio.fake"), False, None)

        def request(
            self,
            method: str,
            uri: str,
            params: dict[str, object] | None = None,
            data: dict[str, object] | None = None,
            headers: dict[str, str] | None = None,
            auth: tuple[str, str] | None = None,
            timeout: float | None = None,
            allow_redirects: bool = False,
        ) -> Any:
            status, answer_headers, body = api.handle(method, uri, params, data, auth)  # type: ignore[arg-type]
            response = Response(status, body.decode("latin-1"), answer_headers)
            response.body_bytes = body  # type: ignore[attr-defined]
            return response

    return FakeTwilioHttpClient()
