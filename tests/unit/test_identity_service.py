"""Tenants, users, logins, tokens, groups and module access as the identity
services decide (TEN-1..5), over in-memory twins and a clock the tests move."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.identity.auth import AcceptInvitation, LoginRequest, NewApiToken
from chalicelib.domain.identity.groups import NewGroup
from chalicelib.domain.identity.models import CrmAccess, UserStatus
from chalicelib.domain.identity.module_access import ensure_module_access
from chalicelib.domain.identity.users import NewUser, UserChanges
from chalicelib.domain.shared.errors import (
    Conflict,
    Forbidden,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Role
from tests.unit.conftest import FixedClock, Unit

PASSWORD = "correct horse battery"


def test_an_invited_user_sets_a_password_and_logs_in(unit: Unit) -> None:
    acme = unit.tenant()
    user, invitation = unit.users.create(acme.owner, NewUser(email="ann@acme.example", name="Ann"))
    assert user.status == UserStatus.INVITED and invitation is not None
    unit.run_jobs()
    assert "accept-invitation" in unit.mail[-1].text and invitation in unit.mail[-1].text

    token, active = unit.auth.accept_invitation(AcceptInvitation(token=invitation, password=PASSWORD))
    assert active.status == UserStatus.ACTIVE
    with pytest.raises(Unauthorized):  # an invitation works once
        unit.auth.accept_invitation(AcceptInvitation(token=invitation, password=PASSWORD))
    principal, tenant = unit.auth.authenticate(f"Bearer {token}")
    assert (principal.user_id, principal.role, tenant.id) == (user.id, Role.USER, acme.id)
    login, _ = unit.auth.login(LoginRequest(email="ANN@acme.example", password=PASSWORD))
    assert unit.auth.authenticate(f"Bearer {login}")[0].user_id == user.id


def test_failed_logins_lock_the_address_for_the_window_whatever_the_password(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    _, invitation = unit.users.create(acme.owner, NewUser(email="ann@acme.example", name="Ann"))
    assert invitation is not None
    unit.auth.accept_invitation(AcceptInvitation(token=invitation, password=PASSWORD))

    for _ in range(5):
        with pytest.raises(Unauthorized):
            unit.auth.login(LoginRequest(email="ann@acme.example", password="wrong password"))
    with pytest.raises(TooManyRequests):  # the right password too: guessing cannot go on
        unit.auth.login(LoginRequest(email="ann@acme.example", password=PASSWORD))
    clock.advance(minutes=15)
    assert unit.auth.login(LoginRequest(email="ann@acme.example", password=PASSWORD))[1].email == "ann@acme.example"


def test_tokens_expire_are_revoked_and_stop_with_their_user(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    token, stored = unit.auth.create_api_token(ann, NewApiToken(name="cli", expires_at=clock.now + timedelta(days=1)))
    assert [t.name for t in unit.auth.list_api_tokens(ann, PageRequest()).items] == ["cli"]
    assert unit.auth.authenticate(f"Bearer {token}")[0].token_id == stored.id

    clock.advance(days=1)
    with pytest.raises(Unauthorized, match="expired"):
        unit.auth.authenticate(f"Bearer {token}")
    other, stored_other = unit.auth.create_api_token(ann, NewApiToken(name="ci"))
    unit.users.deactivate(acme.owner, ann.user_id)
    with pytest.raises(Unauthorized):  # a deactivated user's tokens stop working
        unit.auth.authenticate(f"Bearer {other}")
    unit.auth.revoke_api_token(ann, stored_other.id)
    assert unit.auth.list_api_tokens(ann, PageRequest()).items == [stored]


def test_roles_owners_and_who_may_change_whom(unit: Unit) -> None:
    acme = unit.tenant()
    admin, ann = acme.admin(), acme.add_user("ann")
    with pytest.raises(Forbidden):  # only owners make owners
        unit.users.create(admin, NewUser(email="boss@acme.example", name="Boss", role=Role.OWNER))
    with pytest.raises(Forbidden):  # nobody raises their own role
        unit.users.update(ann, ann.user_id, UserChanges(role=Role.ADMIN), expected_version=1)
    with pytest.raises(Forbidden):
        unit.users.update(ann, admin.user_id, UserChanges(name="Renamed"), expected_version=1)

    owner = acme.user(acme.owner)
    with pytest.raises(Conflict, match="at least one active owner"):
        unit.users.update(acme.owner, owner.id, UserChanges(role=Role.ADMIN), expected_version=owner.version)
    with pytest.raises(Conflict, match="at least one active owner"):
        unit.users.deactivate(acme.owner, owner.id)
    unit.users.update(acme.owner, admin.user_id, UserChanges(role=Role.OWNER), expected_version=1)
    unit.users.update(acme.owner, owner.id, UserChanges(role=Role.ADMIN), expected_version=owner.version)
    assert unit.tenants.get(acme.id).owner_count == 1
    with pytest.raises(Conflict, match="e-mail address exists"):  # an address is one user per tenant
        unit.users.create(admin, NewUser(email=acme.user(ann).email.upper(), name="Twin"))


def test_module_access_limited_to_a_group(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    sales = unit.groups.create(acme.owner, NewGroup(name="Sales", member_ids=[ann.user_id]))
    with pytest.raises(Conflict):
        unit.groups.create(acme.owner, NewGroup(name="sales"))
    with pytest.raises(ValidationFailed):
        unit.groups.create(acme.owner, NewGroup(name="Ghosts", member_ids=["nobody"]))

    tenant = unit.crm_access.put(
        acme.owner, CrmAccess(enabled=True, restricted=True, group_ids=[sales.id]), expected_version=None
    )
    # What a request's principal carries: the groups as stored now.
    ann_now = unit.auth.authenticate(f"Bearer {unit.auth.create_api_token(ann, NewApiToken(name='t'))[0]}")[0]
    bob_now = unit.auth.authenticate(f"Bearer {unit.auth.create_api_token(bob, NewApiToken(name='t'))[0]}")[0]
    ensure_module_access(ann_now, tenant)
    with pytest.raises(Forbidden, match="limited to listed users and groups"):
        ensure_module_access(bob_now, tenant)
    ensure_module_access(acme.owner, tenant)  # the owner can always switch it back
