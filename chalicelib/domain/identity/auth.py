"""Authentication: login, bearer tokens, invitations, personal API tokens (TEN-4).

The tenant comes from the credential only. Failed logins are counted per
e-mail address (whether or not an account exists) in fixed windows; past the
limit every attempt answers 429 until the window ends, the right password
included, so guessing cannot go on and existence is not revealed. An attempt
takes its slot in the window (a conditional ADD, domain/shared/limits.py)
before the password is checked, and gives it back when the password was
right: parallel attempts can never count or try past the limit.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chalicelib.domain.identity.models import (
    Password,
    StoredToken,
    Tenant,
    TokenKind,
    User,
    UserStatus,
    normalise_email,
)
from chalicelib.domain.identity.secrets import BearerToken, hash_password, secret_matches, verify_password
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import FieldError, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from chalicelib.domain.shared.limits import Limit, RateCounters, RateLimiter
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal

SESSION_LIFETIME = timedelta(days=7)
INVITATION_LIFETIME = timedelta(days=7)
LOGIN_WINDOW_SECONDS = 15 * 60
MAX_FAILED_LOGINS = 5
LOGIN_LIMIT = Limit("login", hits=MAX_FAILED_LOGINS, window_seconds=LOGIN_WINDOW_SECONDS, sweep=True)
# Several tenants may share an address; more candidates than this is abuse.
MAX_LOGIN_CANDIDATES = 5
WRONG_CREDENTIALS = "The e-mail address or the password is wrong."


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)
    tenant_id: str | None = Field(
        default=None, max_length=64, description="Needed only when the address has accounts in several tenants."
    )


class AcceptInvitation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=10, max_length=300)
    password: Password


class NewApiToken(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    expires_at: AwareDatetime | None = None


def _email_digest(email: str) -> str:
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


class Auth:
    def __init__(self, store: Any, counters: RateCounters, clock: Clock = utc_now):
        self._store = store
        self._logins = RateLimiter(counters)
        self._clock = clock

    # ---- login ----

    def login(self, request: LoginRequest) -> tuple[str, User]:
        now = self._clock()
        attempt = self._logins.take(LOGIN_LIMIT, _email_digest(request.email), now)
        if not attempt.allowed:
            raise TooManyRequests("Too many failed logins; try again later.", retry_after=attempt.reset)
        candidates = [
            u
            for u in self._store.users_with_login_email(request.email)
            if u.status == UserStatus.ACTIVE and (request.tenant_id is None or u.tenant_id == request.tenant_id)
        ][:MAX_LOGIN_CANDIDATES]
        matches = [u for u in candidates if verify_password(request.password, u.password_hash)]
        if not candidates:
            verify_password(request.password, None)  # the same work as a real check
        if not matches:
            raise Unauthorized(WRONG_CREDENTIALS)  # the attempt keeps its slot: a failure counts
        self._logins.give_back(attempt)
        if len(matches) > 1:
            raise ValidationFailed(
                "This address has accounts in several tenants; say which one.",
                errors=[FieldError("tenant_id", "required: one of " + ", ".join(sorted(u.tenant_id for u in matches)))],
            )
        user = matches[0]
        return self._issue(user, TokenKind.SESSION, "login", now + SESSION_LIFETIME)[0], user

    def _issue(self, user: User, kind: TokenKind, name: str, expires_at: datetime | None) -> tuple[str, StoredToken]:
        now = self._clock()
        token_id = new_id()
        bearer = BearerToken.new(kind.value, user.tenant_id, user.id, token_id)
        stored = StoredToken(
            id=token_id,
            tenant_id=user.tenant_id,
            user_id=user.id,
            kind=kind,
            name=name,
            secret_hash=bearer.secret_hash,
            expires_at=expires_at,
            last4=bearer.secret[-4:],
            created_at=now,
            created_by=user.id,
            updated_at=now,
            updated_by=user.id,
        )
        self._store.put_token(stored)
        return str(bearer), stored

    # ---- every request ----

    def authenticate(self, authorization: str | None) -> tuple[Principal, Tenant]:
        """The principal behind an ``Authorization: Bearer ...`` header, or Unauthorized."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthorized("Send a bearer token: Authorization: Bearer <token>.")
        bearer = BearerToken.parse(authorization[7:].strip())
        if bearer is None or bearer.kind == TokenKind.INVITE.value:
            raise Unauthorized("The token is not valid.")
        tenant, user, token = self._store.credential_items(bearer.tenant_id, bearer.user_id, bearer.token_id)
        if (
            tenant is None
            or user is None
            or token is None
            or token.kind.value != bearer.kind
            or not secret_matches(bearer.secret, token.secret_hash)
        ):
            raise Unauthorized("The token is not valid.")
        if token.expires_at is not None and token.expires_at <= self._clock():
            raise Unauthorized("The token has expired.")
        if user.status != UserStatus.ACTIVE:
            raise Unauthorized("The token is not valid.")
        principal = Principal(
            tenant_id=tenant.id, user_id=user.id, role=user.role, group_ids=frozenset(user.group_ids), token_id=token.id
        )
        return principal, tenant

    def logout(self, principal: Principal) -> None:
        if principal.token_id:
            self._store.delete_token(principal.tenant_id, principal.user_id, principal.token_id)

    # ---- invitations ----

    def invitation_for(self, user: User) -> tuple[str, StoredToken]:
        """A one-time token with which an invited user sets a password."""
        now = self._clock()
        token_id = new_id()
        bearer = BearerToken.new(TokenKind.INVITE.value, user.tenant_id, user.id, token_id)
        stored = StoredToken(
            id=token_id,
            tenant_id=user.tenant_id,
            user_id=user.id,
            kind=TokenKind.INVITE,
            name="invitation",
            secret_hash=bearer.secret_hash,
            expires_at=now + INVITATION_LIFETIME,
            created_at=now,
            created_by=user.created_by,
            updated_at=now,
            updated_by=user.created_by,
        )
        return str(bearer), stored

    def accept_invitation(self, request: AcceptInvitation) -> tuple[str, User]:
        invalid = Unauthorized("The invitation is not valid or has expired.")
        bearer = BearerToken.parse(request.token)
        if bearer is None or bearer.kind != TokenKind.INVITE.value:
            raise invalid
        token = self._store.get_token(bearer.tenant_id, bearer.user_id, bearer.token_id)
        user = self._store.get_user(bearer.tenant_id, bearer.user_id)
        if (
            token is None
            or user is None
            or token.kind != TokenKind.INVITE
            or not secret_matches(bearer.secret, token.secret_hash)
            or (token.expires_at is not None and token.expires_at <= self._clock())
            or user.status != UserStatus.INVITED
        ):
            raise invalid
        now = self._clock()
        activated = user.model_copy(
            update={
                "password_hash": hash_password(request.password),
                "status": UserStatus.ACTIVE,
                "updated_at": now,
                "updated_by": user.id,
            }
        )
        saved = self._store.update_user(user, activated, expected_version=user.version, delete_invite=token.id)
        return self._issue(saved, TokenKind.SESSION, "login", now + SESSION_LIFETIME)[0], saved

    # ---- personal API tokens ----

    def create_api_token(self, principal: Principal, request: NewApiToken) -> tuple[str, StoredToken]:
        now = self._clock()
        if request.expires_at is not None and request.expires_at <= now:
            raise ValidationFailed(
                "The expiry must lie in the future.", errors=[FieldError("expires_at", "must lie in the future")]
            )
        user = self._store.get_user(principal.tenant_id, principal.user_id)
        return self._issue(user, TokenKind.API, request.name, request.expires_at)

    def list_api_tokens(self, principal: Principal, page: PageRequest) -> Slice[StoredToken]:
        return self._store.list_tokens(principal.tenant_id, principal.user_id, TokenKind.API, page)

    def revoke_api_token(self, principal: Principal, token_id: str) -> None:
        token = self._store.get_token(principal.tenant_id, principal.user_id, token_id)
        if token is None or token.kind != TokenKind.API:
            raise NotFound("No such API token.")
        self._store.delete_token(principal.tenant_id, principal.user_id, token_id)
