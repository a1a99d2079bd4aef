"""Use cases of the account, numbers and operators (VOIP-1..4).

Rules:
- The account and the numbers are managed by admins (owner or admin); a user
  sees the numbers they operate, sets their own presence and gets their own
  access token, and only when they operate a number.
- The auth token goes to the vault; the account record holds its reference,
  and no answer, log line or error carries it.
- Buying or linking a number points its voice and status callbacks at the
  tenant's webhooks; releasing gives it back to Twilio, unlinking clears them.
- Operators must be active users of the tenant.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import require_version
from chalicelib.domain.voip.models import (
    MAX_NUMBERS,
    AccountIn,
    AccountTest,
    AvailableNumber,
    AvailableQuery,
    NewNumber,
    NumberChanges,
    NumberHooks,
    NumberSource,
    Presence,
    PresenceStatus,
    TwilioCredentials,
    VoiceToken,
    VoipAccount,
    VoipNumber,
)
from chalicelib.domain.voip.ports import OperatorDirectory, SecretVault, Telephony, VoipStore

TOKEN_SECONDS = 3600
AVAILABLE_LIMIT = 20
WEBHOOK_PREFIX = "/twilio/"


class InvalidCredentials(ValidationFailed):
    """Twilio refused the account SID and auth token."""


def hook_of(account: VoipAccount) -> str:
    """The ``{hook}`` path segment: the tenant, then its unguessable key."""
    return f"{account.tenant_id}.{account.webhook_key}"


def webhook_base(public_url: str, account: VoipAccount) -> str | None:
    if not public_url:
        return None
    return f"{public_url.rstrip('/')}{WEBHOOK_PREFIX}{hook_of(account)}"


def number_hooks(base: str) -> NumberHooks:
    return NumberHooks(voice_url=f"{base}/voice", status_url=f"{base}/status")


def app_hooks(base: str) -> NumberHooks:
    return NumberHooks(voice_url=f"{base}/outgoing", status_url=f"{base}/status")


class CredentialCache:
    """A tenant's credentials, read from the vault once per container and
    secret version (the account record's ``secret_version`` moves on change)."""

    def __init__(self, vault: SecretVault):
        self._vault = vault
        self._cache: dict[tuple[str, str, int], TwilioCredentials] = {}

    def of(self, account: VoipAccount) -> TwilioCredentials:
        key = (account.tenant_id, account.secret_ref, account.secret_version)
        found = self._cache.get(key)
        if found is None:
            found = TwilioCredentials.from_secret(self._vault.get(account.secret_ref))
            self._cache = {k: v for k, v in self._cache.items() if k[0] != account.tenant_id}
            self._cache[key] = found
        return found


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only owners and admins manage telephony.")


class Voip:
    def __init__(
        self,
        store: VoipStore,
        vault: SecretVault,
        credentials: CredentialCache,
        telephony: Callable[[TwilioCredentials], Telephony],
        operators: OperatorDirectory,
        *,
        public_url: str,
        clock: Clock = utc_now,
    ):
        self._store = store
        self._vault = vault
        self._credentials = credentials
        # Telephony is chosen per account: the local stack answers its fake's
        # accounts itself and sends real ones to Twilio.
        self._telephony = telephony
        self._operators = operators
        self._public_url = public_url
        self._clock = clock

    # ---- the account (VOIP-1) ----

    def account(self, principal: Principal) -> VoipAccount:
        _admin(principal)
        return self._account(principal.tenant_id)

    def webhook_base_url(self, account: VoipAccount) -> str | None:
        return webhook_base(self._public_url, account)

    def save_account(
        self, principal: Principal, request: AccountIn, *, expected_version: int | None = None
    ) -> VoipAccount:
        _admin(principal)
        before = self._store.get_account(principal.tenant_id, consistent=True)
        if before is not None:
            require_version(before, expected_version, "account")
        same_account = before is not None and before.account_sid == request.account_sid
        if request.auth_token is None and not same_account:
            raise ValidationFailed(
                "A new account needs its auth token.", errors=[FieldError("auth_token", "is required")]
            )
        now = self._clock()
        changes: dict[str, Any] = {
            "account_sid": request.account_sid,
            "delete_recordings_from_twilio": request.delete_recordings_from_twilio,
            "updated_at": now,
            "updated_by": principal.user_id,
        }
        ref = before.secret_ref if before else None
        if request.auth_token is not None:
            kept = self._credentials.of(before) if same_account and before else None
            creds = TwilioCredentials(
                account_sid=request.account_sid,
                auth_token=request.auth_token,
                # A new token of the same account keeps its API key; another account gets its own.
                api_key_sid=kept.api_key_sid if kept else None,
                api_key_secret=kept.api_key_secret if kept else None,
            )
            changes["secret_ref"] = self._vault.put(principal.tenant_id, creds.as_secret(), ref=ref)
            changes["secret_version"] = (before.secret_version + 1) if before else 1
            changes["verified_at"] = None
        if not same_account:
            changes.update(twiml_app_sid=None, api_key_sid=None, verified_at=None)
        if before is None:
            after = VoipAccount(
                id="twilio",
                tenant_id=principal.tenant_id,
                webhook_key=secrets.token_urlsafe(24),
                created_at=now,
                created_by=principal.user_id,
                **changes,
            )
        else:
            after = before.model_copy(update=changes)
        return self._store.save_account(before, after)

    def test_account(self, principal: Principal) -> AccountTest:
        """Checks the credentials against Twilio; on success makes what
        browsers need (an API key for access tokens, the TwiML app)."""
        _admin(principal)
        before = self._store.get_account(principal.tenant_id, consistent=True)
        if before is None:
            raise NotFound("No Twilio account is connected.")
        creds = self._credentials.of(before)
        telephony = self._telephony(creds)
        try:
            name = telephony.verify(creds)
        except InvalidCredentials as refused:
            return AccountTest(ok=False, detail=refused.detail)
        changes: dict[str, Any] = {"verified_at": self._clock()}
        if not creds.api_key_sid:
            key_sid, key_secret = telephony.create_api_key(creds, "CRM browser calls")
            creds = TwilioCredentials(creds.account_sid, creds.auth_token, key_sid, key_secret)
            changes["secret_ref"] = self._vault.put(principal.tenant_id, creds.as_secret(), ref=before.secret_ref)
            changes["secret_version"] = before.secret_version + 1
            changes["api_key_sid"] = key_sid
        base = self.webhook_base_url(before)
        if base is not None:
            changes["twiml_app_sid"] = telephony.ensure_application(creds, before.twiml_app_sid, app_hooks(base))
        after = before.model_copy(update={**changes, "updated_at": self._clock(), "updated_by": principal.user_id})
        saved = self._store.save_account(before, after)
        detail = f"Connected to {name}." + ("" if base else " Set CRM_PUBLIC_URL so that Twilio can reach the CRM.")
        return AccountTest(ok=True, detail=detail, twiml_app_sid=saved.twiml_app_sid)

    # ---- numbers (VOIP-2, 3) ----

    def available(self, principal: Principal, query: AvailableQuery) -> list[AvailableNumber]:
        _admin(principal)
        account, creds = self._connected(principal.tenant_id)
        return self._telephony(creds).available_numbers(
            creds, query.country, query.type, query.contains, AVAILABLE_LIMIT
        )

    def numbers(self, principal: Principal) -> list[VoipNumber]:
        found = self._store.list_numbers(principal.tenant_id)
        if principal.is_admin:
            return found
        return [n for n in found if n.operator(principal.user_id) is not None]

    def number(self, principal: Principal, number_id: str) -> VoipNumber:
        found = self._store.get_number(principal.tenant_id, number_id)
        if found is None or not (principal.is_admin or found.operator(principal.user_id) is not None):
            raise NotFound("The number does not exist.")
        return found

    def add_number(self, principal: Principal, request: NewNumber) -> VoipNumber:
        _admin(principal)
        account, creds = self._connected(principal.tenant_id)
        if self._store.number_by_phone(principal.tenant_id, request.phone_number) is not None:
            raise Conflict("The CRM has this number already.")
        if len(self._store.list_numbers(principal.tenant_id)) >= MAX_NUMBERS:
            raise Conflict(f"A tenant has at most {MAX_NUMBERS} numbers.")
        fields = request.model_dump(exclude_unset=True, exclude={"phone_number", "mode"})
        self._check_operators(principal, fields)
        hooks = self._hooks(account)
        telephony = self._telephony(creds)
        if request.mode == "buy":
            owned = telephony.buy_number(creds, request.phone_number, hooks)
        else:
            found = telephony.find_number(creds, request.phone_number)
            if found is None:
                raise ValidationFailed(
                    "The Twilio account has no such number.",
                    errors=[FieldError("phone_number", "is not a number of the Twilio account")],
                )
            telephony.point_number(creds, found.sid, hooks)
            owned = found
        now = self._clock()
        number = VoipNumber(
            id=new_id(),
            tenant_id=principal.tenant_id,
            phone_number=owned.phone_number,
            twilio_sid=owned.sid,
            source=NumberSource.BOUGHT if request.mode == "buy" else NumberSource.LINKED,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
            **{k: v for k, v in fields.items() if v is not None or k in ("alias", "greeting")},
        )
        try:
            return self._store.add_number(number)
        except Conflict:
            # Another admin linked it meanwhile; a number we just bought goes back.
            if request.mode == "buy":
                telephony.release_number(creds, owned.sid)
            raise

    def update_number(
        self, principal: Principal, number_id: str, changes: NumberChanges, *, expected_version: int
    ) -> VoipNumber:
        _admin(principal)
        before = self.number(principal, number_id)
        require_version(before, expected_version, "number")
        fields = changes.model_dump(exclude_unset=True)
        self._check_operators(principal, fields)
        after = before.model_copy(
            update={
                **{k: v for k, v in fields.items() if v is not None or k in ("alias", "greeting")},
                "operators": changes.operators if changes.operators is not None else before.operators,
                "updated_at": self._clock(),
                "updated_by": principal.user_id,
            }
        )
        return self._store.update_number(before, after)

    def remove_number(
        self, principal: Principal, number_id: str, *, release: bool | None, expected_version: int | None
    ) -> VoipNumber:
        """Release a bought number to Twilio (the default for bought ones) or
        unlink it (its callbacks cleared, the number stays in the account)."""
        _admin(principal)
        number = self.number(principal, number_id)
        require_version(number, expected_version, "number")
        account, creds = self._connected(principal.tenant_id)
        telephony = self._telephony(creds)
        give_back = release if release is not None else number.source == NumberSource.BOUGHT
        try:
            if give_back:
                telephony.release_number(creds, number.twilio_sid)
            else:
                telephony.point_number(creds, number.twilio_sid, None)
        except NotFound:
            pass  # gone from the Twilio account already: nothing to give back
        self._store.delete_number(number)
        return number

    # ---- operators (VOIP-4) ----

    def set_presence(self, principal: Principal, status: PresenceStatus) -> Presence:
        return self._store.set_presence(principal.tenant_id, principal.user_id, status, self._clock())

    def presence(self, principal: Principal) -> Presence:
        found = {p.user_id: p for p in self._store.presence(principal.tenant_id)}
        return found.get(principal.user_id) or Presence(
            user_id=principal.user_id, status=PresenceStatus.OFFLINE, updated_at=self._epoch()
        )

    def voice_token(self, principal: Principal) -> VoiceToken:
        """A Voice access token for the caller only (identity = their user id)."""
        if not any(n.operator(principal.user_id) for n in self._store.list_numbers(principal.tenant_id)):
            raise Forbidden("You are not an operator of any number.")
        account, creds = self._connected(principal.tenant_id)
        if not account.twiml_app_sid or not creds.api_key_sid:
            raise Conflict("The Twilio account is not set up for browser calls yet: an admin runs the account test.")
        token = self._telephony(creds).access_token(creds, principal.user_id, account.twiml_app_sid, TOKEN_SECONDS)
        return VoiceToken(token=token, identity=principal.user_id, expires_in=TOKEN_SECONDS)

    # ---- helpers ----

    def _account(self, tenant_id: str) -> VoipAccount:
        found = self._store.get_account(tenant_id)
        if found is None:
            raise NotFound("No Twilio account is connected.")
        return found

    def _connected(self, tenant_id: str) -> tuple[VoipAccount, TwilioCredentials]:
        account = self._account(tenant_id)
        return account, self._credentials.of(account)

    def _hooks(self, account: VoipAccount) -> NumberHooks:
        base = self.webhook_base_url(account)
        if base is None:
            raise Conflict("CRM_PUBLIC_URL is not set: Twilio would not know where to call the CRM.")
        return number_hooks(base)

    def _check_operators(self, principal: Principal, fields: dict[str, Any]) -> None:
        wanted = [o["user_id"] for o in fields.get("operators") or []]
        if not wanted:
            return
        active = {p.user_id for p in self._operators.active_principals(principal.tenant_id, wanted)}
        bad = [u for u in wanted if u not in active]
        if bad:
            raise ValidationFailed(
                "Operators must be active users of this tenant.",
                errors=[FieldError("operators", f"unknown or inactive user {u}") for u in bad],
            )

    @staticmethod
    def _epoch() -> datetime:
        from datetime import UTC

        return datetime(1970, 1, 1, tzinfo=UTC)
