"""Identity (TEN-1..5): users and roles, login and its throttle, sessions
and API tokens, invitations, groups and module access, over in-memory twins.

Password hashing (scrypt) costs tens of milliseconds: users get a hash of
small cost put on them directly; only the tests about setting a password pay
for a real one."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from pydantic import ValidationError

from chalicelib.domain.identity.auth import (
    LOGIN_WINDOW_SECONDS,
    AcceptInvitation,
    LoginRequest,
    NewApiToken,
)
from chalicelib.domain.identity.groups import GroupChanges, NewGroup
from chalicelib.domain.identity.models import CrmAccess, UserStatus
from chalicelib.domain.identity.module_access import ensure_module_access
from chalicelib.domain.identity.secrets import BearerToken, hash_password, verify_password
from chalicelib.domain.identity.tenants import NewTenant
from chalicelib.domain.identity.users import NewUser, UserChanges
from chalicelib.domain.shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal, Role
from tests.unit.conftest import FixedClock, Unit, UnitTenant

PASSWORD = "correct horse battery"


def cheap_hash(password: str) -> str:
    """A hash in the stored format with a small scrypt cost (the cost travels
    in the hash, so verify_password checks it the same way, in microseconds)."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=16, r=8, p=1, dklen=32)
    return "$".join(["scrypt", "16", "8", "1", base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


HASHED = cheap_hash(PASSWORD)


def with_password(unit: Unit, acme: UnitTenant, who: Principal) -> str:
    """Give a user the module's password; their e-mail address."""
    user = acme.user(who)
    unit.memory.identity.update_user(
        user, user.model_copy(update={"password_hash": HASHED}), expected_version=user.version
    )
    return user.email


def login(unit: Unit, email: str, password: str = PASSWORD, tenant_id: str | None = None) -> str:
    return unit.auth.login(LoginRequest(email=email, password=password, tenant_id=tenant_id))[0]


def bearer(unit: Unit, who: Principal) -> str:
    return "Bearer " + unit.auth.create_api_token(who, NewApiToken(name="t"))[0]


# ---- login and its throttle ----


def test_login_takes_the_address_in_any_case(unit: Unit) -> None:
    acme = unit.tenant()
    email = with_password(unit, acme, acme.add_user("ann"))
    principal, tenant = unit.auth.authenticate("Bearer " + login(unit, email.upper()))
    assert (tenant.id, principal.role) == (acme.id, Role.USER)


def test_a_wrong_password_is_the_same_answer_as_an_unknown_address(unit: Unit) -> None:
    acme = unit.tenant()
    email = with_password(unit, acme, acme.add_user("ann"))
    with pytest.raises(Unauthorized) as wrong:
        login(unit, email, "wrong password!")
    with pytest.raises(Unauthorized) as unknown:
        login(unit, "nobody@acme.example", "wrong password!")
    assert wrong.value.detail == unknown.value.detail


def test_a_deactivated_user_cannot_log_in(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    email = with_password(unit, acme, ann)
    unit.users.deactivate(acme.owner, ann.user_id)
    with pytest.raises(Unauthorized):
        login(unit, email)


def test_an_invited_user_cannot_log_in_before_accepting(unit: Unit) -> None:
    acme = unit.tenant()
    unit.users.create(acme.owner, NewUser(email="new@acme.example", name="New"))
    with pytest.raises(Unauthorized):
        login(unit, "new@acme.example", "anything at all")


def test_five_failures_lock_the_address_until_the_window_ends(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    email = with_password(unit, acme, acme.add_user("ann"))
    clock.now = clock.now.replace(minute=0)  # the start of a window
    for _ in range(5):
        with pytest.raises(Unauthorized):
            login(unit, email, "wrong password!")
    with pytest.raises(TooManyRequests) as err:
        login(unit, email)
    assert err.value.retry_after == LOGIN_WINDOW_SECONDS
    clock.advance(seconds=LOGIN_WINDOW_SECONDS)
    assert login(unit, email)


def test_four_failures_do_not_lock(unit: Unit) -> None:
    acme = unit.tenant()
    email = with_password(unit, acme, acme.add_user("ann"))
    for _ in range(4):
        with pytest.raises(Unauthorized):
            login(unit, email, "wrong password!")
    assert login(unit, email)


def test_the_lock_counts_by_address_ignoring_case(unit: Unit) -> None:
    acme = unit.tenant()
    email = with_password(unit, acme, acme.add_user("ann"))
    for variant in (email, email.upper(), email.title(), email, email.upper()):
        with pytest.raises(Unauthorized):
            login(unit, variant, "wrong password!")
    with pytest.raises(TooManyRequests):
        login(unit, email)


def test_failures_on_one_address_do_not_lock_another(unit: Unit) -> None:
    acme = unit.tenant()
    ann_email = with_password(unit, acme, acme.add_user("ann"))
    bob_email = with_password(unit, acme, acme.add_user("bob"))
    for _ in range(5):
        with pytest.raises(Unauthorized):
            login(unit, ann_email, "wrong password!")
    assert login(unit, bob_email)


def test_unknown_addresses_are_throttled_too(unit: Unit) -> None:
    unit.tenant()
    for _ in range(5):
        with pytest.raises(Unauthorized):
            login(unit, "ghost@nowhere.example", "wrong password!")
    with pytest.raises(TooManyRequests):
        login(unit, "ghost@nowhere.example", "wrong password!")


def test_an_address_in_two_tenants_must_say_which(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    ann = acme.add_user("ann")
    email = with_password(unit, acme, ann)
    gus = globex.add_user("gus")
    user = globex.user(gus)
    unit.memory.identity.update_user(
        user, user.model_copy(update={"email": email, "password_hash": HASHED}), expected_version=user.version
    )
    with pytest.raises(ValidationFailed) as err:
        login(unit, email)
    assert err.value.errors[0].field == "tenant_id"
    principal, _ = unit.auth.authenticate("Bearer " + login(unit, email, tenant_id=globex.id))
    assert principal.tenant_id == globex.id


# ---- sessions and tokens ----


def test_a_session_lasts_seven_days(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    session = "Bearer " + login(unit, with_password(unit, acme, acme.add_user("ann")))
    clock.advance(days=7, seconds=-1)
    assert unit.auth.authenticate(session)
    clock.advance(seconds=1)
    with pytest.raises(Unauthorized, match="expired"):
        unit.auth.authenticate(session)


def test_logout_ends_the_session(unit: Unit) -> None:
    acme = unit.tenant()
    session = "Bearer " + login(unit, with_password(unit, acme, acme.add_user("ann")))
    principal, _ = unit.auth.authenticate(session)
    unit.auth.logout(principal)
    with pytest.raises(Unauthorized):
        unit.auth.authenticate(session)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer nonsense", "Bearer crm_api.a.b.c"])
def test_malformed_credentials_are_refused(unit: Unit, header: str | None) -> None:
    with pytest.raises(Unauthorized):
        unit.auth.authenticate(header)


def test_a_token_with_a_changed_secret_is_refused(unit: Unit) -> None:
    acme = unit.tenant()
    token = bearer(unit, acme.owner)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(Unauthorized):
        unit.auth.authenticate(forged)


def test_a_token_moved_to_another_tenant_is_refused(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    parsed = BearerToken.parse(bearer(unit, acme.owner)[7:])
    assert parsed is not None
    moved = BearerToken(parsed.kind, globex.id, parsed.user_id, parsed.token_id, parsed.secret)
    with pytest.raises(Unauthorized):
        unit.auth.authenticate(f"Bearer {moved}")


def test_an_api_token_used_as_a_session_is_refused(unit: Unit) -> None:
    acme = unit.tenant()
    parsed = BearerToken.parse(bearer(unit, acme.owner)[7:])
    assert parsed is not None
    relabelled = BearerToken("session", parsed.tenant_id, parsed.user_id, parsed.token_id, parsed.secret)
    with pytest.raises(Unauthorized):
        unit.auth.authenticate(f"Bearer {relabelled}")


def test_an_invitation_is_no_bearer_token(unit: Unit) -> None:
    acme = unit.tenant()
    _, invitation = unit.users.create(acme.owner, NewUser(email="new@acme.example", name="New"))
    assert invitation is not None
    with pytest.raises(Unauthorized):
        unit.auth.authenticate(f"Bearer {invitation}")


def test_the_principal_carries_the_users_groups_as_stored_now(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    token = bearer(unit, ann)
    sales = unit.groups.create(acme.owner, NewGroup(name="Sales", member_ids=[ann.user_id]))
    assert unit.auth.authenticate(token)[0].group_ids == {sales.id}


def test_an_api_token_expiry_must_lie_ahead(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed) as err:
        unit.auth.create_api_token(acme.owner, NewApiToken(name="old", expires_at=clock.now))
    assert err.value.errors[0].field == "expires_at"


def test_an_api_token_without_expiry_keeps_working(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    token = bearer(unit, acme.owner)
    clock.advance(days=3650)
    assert unit.auth.authenticate(token)[0].user_id == acme.owner.user_id


def test_a_token_shows_only_its_last_four_characters(unit: Unit) -> None:
    acme = unit.tenant()
    token, stored = unit.auth.create_api_token(acme.owner, NewApiToken(name="cli"))
    assert stored.last4 == token[-4:]
    assert token.split(".")[-1] not in stored.model_dump_json()


def test_users_see_and_revoke_only_their_own_tokens(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    _, ann_token = unit.auth.create_api_token(ann, NewApiToken(name="ann's"))
    assert unit.auth.list_api_tokens(bob, PageRequest()).items == []
    with pytest.raises(NotFound):
        unit.auth.revoke_api_token(bob, ann_token.id)


def test_a_session_is_not_listed_or_revoked_as_an_api_token(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    principal, _ = unit.auth.authenticate("Bearer " + login(unit, with_password(unit, acme, ann)))
    assert unit.auth.list_api_tokens(ann, PageRequest()).items == []
    assert principal.token_id is not None
    with pytest.raises(NotFound):
        unit.auth.revoke_api_token(ann, principal.token_id)


# ---- invitations ----


def test_an_invitation_is_mailed_and_sets_the_password_once(unit: Unit) -> None:
    acme = unit.tenant()
    new, invitation = unit.users.create(acme.owner, NewUser(email="New@Acme.example", name="New"))
    assert new.status == UserStatus.INVITED and invitation is not None
    unit.run_jobs()
    assert [m.to for m in unit.mail] == ["New@Acme.example"]
    assert invitation in unit.mail[0].text
    _, active = unit.auth.accept_invitation(AcceptInvitation(token=invitation, password=PASSWORD))
    assert active.status == UserStatus.ACTIVE
    with pytest.raises(Unauthorized):
        unit.auth.accept_invitation(AcceptInvitation(token=invitation, password=PASSWORD))


def test_an_invitation_expires_after_seven_days(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    _, invitation = unit.users.create(acme.owner, NewUser(email="new@acme.example", name="New"))
    assert invitation is not None
    clock.advance(days=7)
    with pytest.raises(Unauthorized, match="expired"):
        unit.auth.accept_invitation(AcceptInvitation(token=invitation, password=PASSWORD))


def test_a_password_is_at_least_ten_characters() -> None:
    with pytest.raises(ValidationError):
        AcceptInvitation(token="crm_invite.a.b.c.d", password="short")


def test_a_user_with_a_password_is_active_at_once(unit: Unit) -> None:
    acme = unit.tenant()
    new, invitation = unit.users.create(acme.owner, NewUser(email="new@acme.example", name="New", password=PASSWORD))
    assert (new.status, invitation) == (UserStatus.ACTIVE, None)
    assert verify_password(PASSWORD, new.password_hash)


# ---- users and roles ----


def test_only_admins_add_users(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    with pytest.raises(Forbidden):
        unit.users.create(ann, NewUser(email="x@acme.example", name="X"))


@pytest.mark.parametrize("email", ["no-at-sign", "a@b", "two@@acme.example", "sp ace@acme.example"])
def test_an_invalid_address_is_refused(email: str) -> None:
    with pytest.raises(ValidationError):
        NewUser(email=email, name="X")


def test_the_same_address_may_be_a_user_of_another_tenant(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    unit.users.create(acme.owner, NewUser(email="sam@example.com", name="Sam"))
    assert unit.users.create(globex.owner, NewUser(email="sam@example.com", name="Sam"))[0].tenant_id == globex.id


def test_a_user_of_another_tenant_does_not_exist(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    ann = acme.add_user("ann")
    with pytest.raises(NotFound):
        unit.users.get(globex.owner, ann.user_id)


def test_users_change_their_own_name(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    assert unit.users.update(ann, ann.user_id, UserChanges(name="Ann Lee"), expected_version=1).name == "Ann Lee"


def test_a_user_change_names_the_version(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    unit.users.update(ann, ann.user_id, UserChanges(name="Ann Lee"), expected_version=1)
    with pytest.raises(PreconditionFailed):
        unit.users.update(ann, ann.user_id, UserChanges(name="Ann"), expected_version=1)


def test_changing_your_own_password_needs_the_current_one(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    with_password(unit, acme, ann)
    version = acme.user(ann).version
    with pytest.raises(ValidationFailed) as err:
        unit.users.update(ann, ann.user_id, UserChanges(password="a new password"), expected_version=version)
    assert err.value.errors[0].field == "current_password"
    with pytest.raises(ValidationFailed):
        unit.users.update(
            ann,
            ann.user_id,
            UserChanges(password="a new password", current_password="wrong one"),
            expected_version=version,
        )


def test_an_admin_lowers_a_user_but_cannot_touch_an_owner(unit: Unit) -> None:
    acme = unit.tenant()
    boss, other = acme.admin(), acme.admin("other")
    assert unit.users.update(boss, other.user_id, UserChanges(role=Role.USER), expected_version=1).role == Role.USER
    with pytest.raises(Forbidden):
        unit.users.update(
            boss, acme.owner.user_id, UserChanges(name="Renamed"), expected_version=acme.user(acme.owner).version
        )


def test_an_admin_cannot_make_an_owner(unit: Unit) -> None:
    acme = unit.tenant()
    boss, ann = acme.admin(), acme.add_user("ann")
    with pytest.raises(Forbidden):
        unit.users.update(boss, ann.user_id, UserChanges(role=Role.OWNER), expected_version=1)


def test_a_user_may_lower_their_own_role(unit: Unit) -> None:
    acme = unit.tenant()
    boss = acme.admin()
    assert unit.users.update(boss, boss.user_id, UserChanges(role=Role.USER), expected_version=1).role == Role.USER


def test_a_deactivated_user_is_not_reactivated_by_themselves(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    unit.users.deactivate(acme.owner, ann.user_id)
    with pytest.raises(Forbidden):
        unit.users.update(ann, ann.user_id, UserChanges(status=UserStatus.ACTIVE), expected_version=2)


def test_an_admin_reactivates_a_user(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    unit.users.deactivate(acme.owner, ann.user_id)
    back = unit.users.update(acme.owner, ann.user_id, UserChanges(status=UserStatus.ACTIVE), expected_version=2)
    assert back.status == UserStatus.ACTIVE


def test_a_user_is_never_set_back_to_invited(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    with pytest.raises(ValidationFailed):
        unit.users.update(acme.owner, ann.user_id, UserChanges(status=UserStatus.INVITED), expected_version=1)


def test_an_invited_user_is_activated_only_by_the_invitation(unit: Unit) -> None:
    acme = unit.tenant()
    new, _ = unit.users.create(acme.owner, NewUser(email="new@acme.example", name="New"))
    with pytest.raises(ValidationFailed, match="accepting the invitation"):
        unit.users.update(acme.owner, new.id, UserChanges(status=UserStatus.ACTIVE), expected_version=1)


def test_the_users_of_a_tenant_are_listed(unit: Unit) -> None:
    acme = unit.tenant()
    acme.add_user("ann")
    unit.tenant("Globex").add_user("gus")
    assert sorted(u.name for u in unit.users.list(acme.owner, PageRequest()).items) == ["Owner", "ann"]


# ---- tenants ----


def test_a_tenant_needs_a_known_time_zone_and_phone_region() -> None:
    with pytest.raises(ValidationError):
        NewTenant(name="X", owner_email="o@x.example", time_zone="Mars/Olympus")
    with pytest.raises(ValidationError):
        NewTenant(name="X", owner_email="o@x.example", phone_region="XX")
    assert NewTenant(name="X", owner_email="o@x.example", phone_region="at").phone_region == "AT"


def test_a_new_tenant_counts_one_owner_and_is_seeded(unit: Unit) -> None:
    acme = unit.tenant()
    assert unit.tenants.get(acme.id).owner_count == 1
    assert unit.currency_settings.get(acme.owner).currency == "EUR"


def test_an_unknown_tenant_is_not_found(unit: Unit) -> None:
    with pytest.raises(NotFound):
        unit.tenants.get("nope")


# ---- groups ----


def test_only_admins_manage_groups(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    with pytest.raises(Forbidden):
        unit.groups.create(ann, NewGroup(name="Sales"))


def test_a_group_member_must_be_a_user_of_the_tenant(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    gus = globex.add_user("gus")
    with pytest.raises(ValidationFailed):
        unit.groups.create(acme.owner, NewGroup(name="Sales", member_ids=[gus.user_id]))


def test_a_group_renamed_to_another_groups_name_is_refused(unit: Unit) -> None:
    acme = unit.tenant()
    unit.groups.create(acme.owner, NewGroup(name="Sales"))
    support = unit.groups.create(acme.owner, NewGroup(name="Support"))
    with pytest.raises(Conflict):
        unit.groups.update(acme.owner, support.id, GroupChanges(name="SALES"), expected_version=support.version)


def test_group_membership_shows_on_the_user(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    sales = unit.groups.create(acme.owner, NewGroup(name="Sales", member_ids=[ann.user_id]))
    assert acme.user(ann).group_ids == [sales.id]
    unit.groups.update(acme.owner, sales.id, GroupChanges(member_ids=[]), expected_version=sales.version)
    assert acme.user(ann).group_ids == []


def test_a_deleted_group_leaves_its_members(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    sales = unit.groups.create(acme.owner, NewGroup(name="Sales", member_ids=[ann.user_id]))
    unit.groups.delete(acme.owner, sales.id)
    assert acme.user(ann).group_ids == []
    with pytest.raises(NotFound):
        unit.groups.get(acme.owner, sales.id)


# ---- module access (TEN-3) ----


def test_a_switched_off_module_refuses_even_the_owner(unit: Unit) -> None:
    acme = unit.tenant()
    tenant = unit.crm_access.put(acme.owner, CrmAccess(enabled=False), expected_version=None)
    with pytest.raises(Forbidden, match="switched off"):
        ensure_module_access(acme.owner, tenant)


def test_a_listed_user_may_use_a_restricted_module(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    tenant = unit.crm_access.put(acme.owner, CrmAccess(restricted=True, user_ids=[ann.user_id]), expected_version=None)
    ensure_module_access(ann, tenant)
    with pytest.raises(Forbidden):
        ensure_module_access(bob, tenant)


def test_an_admin_is_not_exempt_from_a_restricted_module(unit: Unit) -> None:
    acme = unit.tenant()
    boss = acme.admin()
    tenant = unit.crm_access.put(acme.owner, CrmAccess(restricted=True), expected_version=None)
    with pytest.raises(Forbidden):
        ensure_module_access(boss, tenant)


def test_only_the_owner_changes_module_access(unit: Unit) -> None:
    acme = unit.tenant()
    boss = acme.admin()
    assert unit.crm_access.get(boss).crm_access.enabled is True
    with pytest.raises(Forbidden):
        unit.crm_access.put(boss, CrmAccess(enabled=False), expected_version=None)


def test_module_access_names_existing_users_and_groups(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed) as err:
        unit.crm_access.put(
            acme.owner, CrmAccess(restricted=True, user_ids=["x"], group_ids=["y"]), expected_version=None
        )
    assert sorted(e.field for e in err.value.errors) == ["group_ids", "user_ids"]


def test_users_do_not_see_the_module_access_settings(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(Forbidden):
        unit.crm_access.get(acme.add_user("ann"))


# ---- secrets ----


def test_a_password_hash_is_salted() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert verify_password(PASSWORD, first) and not verify_password(PASSWORD + "x", first)


@pytest.mark.parametrize("stored", [None, "", "md5$abc", "scrypt$x$y$z$a$b", "garbage"])
def test_a_missing_or_foreign_hash_matches_nothing(stored: str | None) -> None:
    assert verify_password(PASSWORD, stored) is False


@pytest.mark.parametrize(
    "text",
    ["crm_api.t.u.k", "crm_api.t.u.k.s.x", "api.t.u.k.s", "crm_root.t.u.k.s", "crm_api.t#1.u.k.s", "crm_api.t..k.s"],
)
def test_malformed_bearer_tokens_do_not_parse(text: str) -> None:
    assert BearerToken.parse(text) is None


def test_a_bearer_token_round_trips() -> None:
    token = BearerToken.new("api", "t1", "u1", "k1")
    assert BearerToken.parse(str(token)) == token
    assert token.secret not in token.secret_hash


def test_a_session_ends_timedelta_is_exact(clock: FixedClock, unit: Unit) -> None:
    acme = unit.tenant()
    _, stored = unit.auth.create_api_token(acme.owner, NewApiToken(name="x", expires_at=clock.now + timedelta(hours=1)))
    assert stored.expires_at == clock.now + timedelta(hours=1)


def test_a_changed_address_is_the_login_from_then_on(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    old = with_password(unit, acme, ann)
    unit.users.update(
        ann, ann.user_id, UserChanges(email="New.Ann@Acme.example"), expected_version=acme.user(ann).version
    )
    assert login(unit, "new.ann@acme.example")
    with pytest.raises(Unauthorized):
        login(unit, old)


def test_an_address_of_the_tenant_cannot_be_taken_by_another_user(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    with pytest.raises(Conflict, match="exists already"):
        unit.users.update(bob, bob.user_id, UserChanges(email=acme.user(ann).email.upper()), expected_version=1)
