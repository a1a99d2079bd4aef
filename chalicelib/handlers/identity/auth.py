"""Login, logout, invitations, the caller, and personal API tokens."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.identity.auth import AcceptInvitation, LoginRequest, NewApiToken
    from chalicelib.handlers.identity.views import (
        GroupRef,
        MeView,
        SessionView,
        TenantView,
        TokenCreatedView,
        TokenView,
        UserView,
    )


bp = Blueprint(__name__)
TAG = "Identity"


@route(
    bp,
    "/v1/auth/login",
    "POST",
    summary="Log in with e-mail and password",
    tag=TAG,
    public=True,
    body=LoginRequest,
    response=SessionView,
    errors=(401, 429),
    not_idempotent="public: there is no caller to keep the answer for; a repeated login issues another "
    "session token and creates nothing else",
)
def login(call: Call) -> SessionView:
    token, user = container().auth.login(call.body)
    return SessionView(token=token, user=UserView.of(user))


@route(
    bp,
    "/v1/auth/logout",
    "POST",
    summary="Revoke the calling token",
    tag=TAG,
    module="portal",
    status=204,
    not_idempotent="revoking a token twice revokes it once",
)
def logout(call: Call) -> None:
    container().auth.logout(call.caller)


@route(
    bp,
    "/v1/auth/accept-invitation",
    "POST",
    summary="Set the invited user's password",
    tag=TAG,
    public=True,
    body=AcceptInvitation,
    response=SessionView,
    errors=(401, 409),
    not_idempotent="public: the invitation token is single-use, so a repeat cannot set anything twice",
)
def accept_invitation(call: Call) -> SessionView:
    token, user = container().auth.accept_invitation(call.body)
    return SessionView(token=token, user=UserView.of(user))


@route(
    bp, "/v1/me", "GET", summary="The calling user, role, groups and tenant", tag=TAG, module="portal", response=MeView
)
def me(call: Call) -> MeView:
    user = container().users.get(call.caller, call.caller.user_id)
    groups = container().groups.get_many(call.caller, user.group_ids)
    return MeView(
        user=UserView.of(user),
        role=user.role.value,
        tenant=TenantView.of(call.tenant),
        groups=[GroupRef(id=g.id, name=g.name) for g in groups],
    )


@route(
    bp,
    "/v1/tokens",
    "GET",
    summary="Your personal API tokens",
    tag=TAG,
    module="portal",
    response=TokenView,
    paged=True,
)
def list_tokens(call: Call) -> Page[TokenView]:
    page = container().auth.list_api_tokens(call.caller, call.page_request("tokens.list"))
    return call.page(page, TokenView.of)


@route(
    bp,
    "/v1/tokens",
    "POST",
    summary="Create a personal API token (the secret is shown once)",
    tag=TAG,
    module="portal",
    body=NewApiToken,
    response=TokenCreatedView,
    status=201,
)
def create_token(call: Call) -> TokenCreatedView:
    secret, token = container().auth.create_api_token(call.caller, call.body)
    return TokenCreatedView(token=secret, **TokenView.of(token).model_dump())


@route(
    bp,
    "/v1/tokens/{token_id}",
    "DELETE",
    summary="Revoke a personal API token",
    tag=TAG,
    module="portal",
    status=204,
    errors=(404,),
)
def revoke_token(token_id: str, call: Call) -> None:
    container().auth.revoke_api_token(call.caller, token_id)
