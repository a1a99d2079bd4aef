"""Users and groups of the tenant (owner/admin manage; everyone reads)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.bootstrap import container
from chalicelib.domain.shared.pagination import Page
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from chalicelib.domain.identity.groups import GroupChanges, NewGroup
    from chalicelib.domain.identity.users import NewUser, UserChanges
    from chalicelib.handlers.identity.views import GroupView, UserCreatedView, UserView


bp = Blueprint(__name__)
USERS, GROUPS = "Users", "Groups"


@route(bp, "/v1/users", "GET", summary="The tenant's users", tag=USERS, module="portal", response=UserView, paged=True)
def list_users(call: Call) -> Page[UserView]:
    return call.page(container().users.list(call.caller, call.page_request("users.list")), UserView.of)


@route(
    bp,
    "/v1/users",
    "POST",
    summary="Add a user (with a password, or get an invitation token)",
    tag=USERS,
    module="portal",
    body=NewUser,
    response=UserCreatedView,
    status=201,
    errors=(409,),
)
def create_user(call: Call) -> UserCreatedView:
    user, invitation = container().users.create(call.caller, call.body)
    return UserCreatedView(**UserView.of(user).model_dump(), invitation_token=invitation)


@route(
    bp, "/v1/users/{user_id}", "GET", summary="One user", tag=USERS, module="portal", response=UserView, errors=(404,)
)
def get_user(user_id: str, call: Call) -> UserView:
    return UserView.of(container().users.get(call.caller, user_id))


@route(
    bp,
    "/v1/users/{user_id}",
    "PATCH",
    summary="Change a user (name, e-mail, role, status, password)",
    tag=USERS,
    module="portal",
    body=UserChanges,
    response=UserView,
    if_match=True,
    errors=(404, 409),
)
def update_user(user_id: str, call: Call) -> UserView:
    return UserView.of(
        container().users.update(call.caller, user_id, call.body, expected_version=call.expected_version())
    )


@route(
    bp,
    "/v1/users/{user_id}",
    "DELETE",
    summary="Deactivate a user (their tokens stop working at once)",
    tag=USERS,
    module="portal",
    response=UserView,
    errors=(404, 409, 412),
)
def deactivate_user(user_id: str, call: Call) -> UserView:
    return UserView.of(container().users.deactivate(call.caller, user_id, expected_version=call.optional_version()))


@route(
    bp, "/v1/groups", "GET", summary="The tenant's groups", tag=GROUPS, module="portal", response=GroupView, paged=True
)
def list_groups(call: Call) -> Page[GroupView]:
    return call.page(container().groups.list(call.caller, call.page_request("groups.list")), GroupView.of)


@route(
    bp,
    "/v1/groups",
    "POST",
    summary="Create a group",
    tag=GROUPS,
    module="portal",
    body=NewGroup,
    response=GroupView,
    status=201,
    errors=(409,),
)
def create_group(call: Call) -> GroupView:
    return GroupView.of(container().groups.create(call.caller, call.body))


@route(
    bp,
    "/v1/groups/{group_id}",
    "GET",
    summary="One group",
    tag=GROUPS,
    module="portal",
    response=GroupView,
    errors=(404,),
)
def get_group(group_id: str, call: Call) -> GroupView:
    return GroupView.of(container().groups.get(call.caller, group_id))


@route(
    bp,
    "/v1/groups/{group_id}",
    "PATCH",
    summary="Rename a group or replace its members",
    tag=GROUPS,
    module="portal",
    body=GroupChanges,
    response=GroupView,
    if_match=True,
    errors=(404, 409),
)
def update_group(group_id: str, call: Call) -> GroupView:
    return GroupView.of(
        container().groups.update(call.caller, group_id, call.body, expected_version=call.expected_version())
    )


@route(
    bp,
    "/v1/groups/{group_id}",
    "DELETE",
    summary="Delete a group",
    tag=GROUPS,
    module="portal",
    status=204,
    errors=(404, 412),
)
def delete_group(group_id: str, call: Call) -> None:
    container().groups.delete(call.caller, group_id, expected_version=call.optional_version())
