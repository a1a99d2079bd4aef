"""The Telephony port over Twilio's REST API, through the twilio library only.

``twilio.rest`` costs about 0.2 s to import: it is imported inside the
methods, never on the HTTP function's cold path. Which transport carries the
requests is chosen per account (``telephony_for``): Twilio itself, the local
stack's fake (for the fake's accounts only, ``CRM_TWILIO_FAKE_URL``), or any
``twilio.http.HttpClient`` a test hands in (storage/memory/twilio_api.py).

Twilio's errors become domain errors here: rejected credentials
InvalidCredentials, a missing resource NotFound, a number that cannot be
bought a ValidationFailed, Twilio unreachable TemporarilyUnavailable.
Nothing logged or raised carries the auth token.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from chalicelib.domain.shared.errors import FieldError, NotFound, TemporarilyUnavailable, ValidationFailed
from chalicelib.domain.voip.models import AvailableNumber, NumberHooks, NumberKind, OwnedNumber, TwilioCredentials
from chalicelib.domain.voip.service import InvalidCredentials

TIMEOUT_SECONDS = 10
TWILIO_API = "https://api.twilio.com"
# The local fake's accounts: a SID of AC and twenty zeros, which no real account has.
FAKE_ACCOUNT_PREFIX = "AC" + "0" * 20
_log = logging.getLogger("crm.twilio")


def is_fake_account(account_sid: str) -> bool:
    return account_sid.startswith(FAKE_ACCOUNT_PREFIX)


def _transport_class() -> Any:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.http.response import Response

    class Transport(TwilioHttpClient):
        """TwilioHttpClient that keeps a response's bytes (recording media:
        the library's own Response holds decoded text only) and, for the
        local fake, sends api.twilio.com's requests to the loopback."""

        def __init__(self, base_url: str | None = None):
            super().__init__(timeout=TIMEOUT_SECONDS, logger=_log)
            self._base_url = base_url.rstrip("/") if base_url else None

        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            from requests import Request

            if self._base_url and url.startswith(TWILIO_API):
                url = self._base_url + url[len(TWILIO_API) :]
            params, data, headers, auth = (kwargs.get(k) for k in ("params", "data", "headers", "auth"))
            timeout = kwargs.get("timeout") or self.timeout
            session = self.session
            assert session is not None
            prepared = session.prepare_request(
                Request(method.upper(), url, params=params, data=data, headers=headers, auth=auth)
            )
            answer = session.send(prepared, timeout=timeout, allow_redirects=bool(kwargs.get("allow_redirects")))
            response = Response(int(answer.status_code), answer.text, answer.headers)
            response.body_bytes = answer.content
            return response

    return Transport


def telephony_for(creds: TwilioCredentials, *, fake_url: str = "", http_client: Any = None) -> "TwilioTelephony":
    """The adapter for this account: a test's transport, the local fake for
    the fake's accounts, Twilio for every other."""
    if http_client is None:
        base = fake_url if fake_url and is_fake_account(creds.account_sid) else None
        http_client = _transport_class()(base)
    return TwilioTelephony(http_client)


def _client(creds: TwilioCredentials, http_client: Any) -> Any:
    from twilio.rest import Client

    return Client(creds.account_sid, creds.auth_token, http_client=http_client)


@contextlib.contextmanager
def twilio_errors(what: str) -> Iterator[None]:
    from requests import RequestException
    from twilio.base.exceptions import TwilioException, TwilioRestException

    try:
        yield
    except TwilioRestException as err:
        raise _refused(what, err.status, err.code, err.msg) from None
    except TwilioException as err:
        # A list's page fetch raises the base class with the answer: ("Unable to fetch page", response)
        # (issue 19, fuzzing: refused credentials on GET /v1/voip/available-numbers were a 500).
        answer = err.args[1] if len(err.args) > 1 else None
        raise _refused(what, int(getattr(answer, "status_code", 500)), None, str(err.args[0])) from None
    except RequestException:
        raise TemporarilyUnavailable("Twilio did not answer in time; please retry.") from None


def _refused(what: str, status: int, code: int | None, message: str) -> Exception:
    if status in (401, 403) or code == 20003:
        return InvalidCredentials(
            "Twilio refused the account SID and auth token.",
            errors=[FieldError("auth_token", "Twilio refused these credentials")],
        )
    if status == 404:
        return NotFound(f"Twilio has no such {what}.")
    if status == 429 or status >= 500:
        return TemporarilyUnavailable("Twilio is busy; please retry.")
    return ValidationFailed(f"Twilio refused to {what}: {message}", errors=[FieldError("twilio", f"error {code}")])


def _owned(record: Any) -> OwnedNumber:
    return OwnedNumber(sid=record.sid, phone_number=record.phone_number, friendly_name=record.friendly_name)


class TwilioTelephony:
    def __init__(self, http_client: Any):
        self._http = http_client

    def verify(self, creds: TwilioCredentials) -> str:
        with twilio_errors("account"):
            account = _client(creds, self._http).api.v2010.accounts(creds.account_sid).fetch()
        return str(account.friendly_name or creds.account_sid)

    def create_api_key(self, creds: TwilioCredentials, name: str) -> tuple[str, str]:
        with twilio_errors("create an API key"):
            key = _client(creds, self._http).new_keys.create(friendly_name=name)
        return str(key.sid), str(key.secret)

    def ensure_application(self, creds: TwilioCredentials, app_sid: str | None, hooks: NumberHooks) -> str:
        settings = {
            "voice_url": hooks.voice_url,
            "voice_method": "POST",
            "status_callback": hooks.status_url,
            "status_callback_method": "POST",
        }
        client = _client(creds, self._http)
        if app_sid:
            try:
                with twilio_errors("TwiML app"):
                    return str(client.applications(app_sid).update(**settings).sid)
            except NotFound:
                pass  # deleted in the console: make a new one
        with twilio_errors("create the TwiML app"):
            return str(client.applications.create(friendly_name="CRM browser calls", **settings).sid)

    def available_numbers(
        self, creds: TwilioCredentials, country: str, kind: NumberKind, contains: str | None, limit: int
    ) -> list[AvailableNumber]:
        options: dict[str, Any] = {"voice_enabled": True, "limit": limit}
        if contains:
            options["contains"] = contains
        with twilio_errors("list numbers"):
            offer = _client(creds, self._http).available_phone_numbers(country)
            listed = getattr(offer, kind.value).list(**options)
        return [
            AvailableNumber(
                phone_number=n.phone_number,
                friendly_name=n.friendly_name,
                locality=n.locality,
                region=n.region,
                iso_country=n.iso_country,
                voice=bool((n.capabilities or {}).get("voice", True)),
            )
            for n in listed
        ]

    def buy_number(self, creds: TwilioCredentials, phone_number: str, hooks: NumberHooks) -> OwnedNumber:
        with twilio_errors("buy the number"):
            bought = _client(creds, self._http).incoming_phone_numbers.create(
                phone_number=phone_number, **self._hook_settings(hooks)
            )
        return _owned(bought)

    def find_number(self, creds: TwilioCredentials, phone_number: str) -> OwnedNumber | None:
        with twilio_errors("list the account's numbers"):
            found = _client(creds, self._http).incoming_phone_numbers.list(phone_number=phone_number, limit=5)
        return next((_owned(n) for n in found if n.phone_number == phone_number), None)

    def point_number(self, creds: TwilioCredentials, sid: str, hooks: NumberHooks | None) -> None:
        settings = self._hook_settings(hooks) if hooks else {"voice_url": "", "status_callback": ""}
        with twilio_errors("number"):
            _client(creds, self._http).incoming_phone_numbers(sid).update(**settings)

    def release_number(self, creds: TwilioCredentials, sid: str) -> None:
        with twilio_errors("number"):
            _client(creds, self._http).incoming_phone_numbers(sid).delete()

    def call_price(self, creds: TwilioCredentials, call_sid: str) -> tuple[str, str] | None:
        with twilio_errors("call"):
            call = _client(creds, self._http).calls(call_sid).fetch()
        if call.price is None or call.price == "":
            return None
        return str(call.price), str(call.price_unit or "USD")

    def recording_media(self, creds: TwilioCredentials, recording_sid: str) -> tuple[bytes, str]:
        client = _client(creds, self._http)
        url = f"{TWILIO_API}/2010-04-01/Accounts/{creds.account_sid}/Recordings/{recording_sid}.mp3"
        with twilio_errors("recording"):
            answer = client.request("GET", url)
            if answer.status_code >= 400:
                from twilio.base.exceptions import TwilioRestException

                raise TwilioRestException(answer.status_code, url, "Unable to fetch the recording", method="GET")
        data = getattr(answer, "body_bytes", None)
        if data is None:
            data = answer.text.encode("latin-1")
        content_type = (answer.headers or {}).get("Content-Type", "audio/mpeg").split(";")[0]
        return data, content_type

    def delete_recording(self, creds: TwilioCredentials, recording_sid: str) -> None:
        try:
            with twilio_errors("recording"):
                _client(creds, self._http).recordings(recording_sid).delete()
        except NotFound:
            pass  # deleted already: what we wanted

    def access_token(self, creds: TwilioCredentials, identity: str, app_sid: str, ttl: int) -> str:
        from twilio.jwt.access_token import AccessToken
        from twilio.jwt.access_token.grants import VoiceGrant

        if not creds.api_key_sid or not creds.api_key_secret:
            raise ValidationFailed("The account has no API key for access tokens yet: run the account test.")
        token = AccessToken(creds.account_sid, creds.api_key_sid, creds.api_key_secret, identity=identity, ttl=ttl)
        token.add_grant(VoiceGrant(outgoing_application_sid=app_sid, incoming_allow=True))
        jwt = token.to_jwt()
        return jwt.decode() if isinstance(jwt, bytes) else str(jwt)

    @staticmethod
    def _hook_settings(hooks: NumberHooks) -> dict[str, str]:
        return {
            "voice_url": hooks.voice_url,
            "voice_method": "POST",
            "status_callback": hooks.status_url,
            "status_callback_method": "POST",
        }
