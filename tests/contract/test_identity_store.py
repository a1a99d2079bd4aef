"""The identity port (IdentityStorage): tenants, users and their e-mail
markers, the owner count, tokens, groups, module access and login throttling."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.identity.models import CrmAccess, Group, StoredToken, TokenKind
from chalicelib.domain.shared.clock import new_id
from chalicelib.domain.shared.errors import Conflict, PreconditionFailed
from chalicelib.domain.shared.principal import Role
from tests.contract.conftest import NOW, Stores, user_of, walk


def group_ids(stores: Stores, tenant_id: str, user_id: str) -> list[str]:
    user = stores.identity.get_user(tenant_id, user_id)
    assert user is not None
    return user.group_ids


def test_users_are_unique_by_address_within_a_tenant_and_apart_between_tenants(stores: Stores) -> None:
    acme, owner = stores.tenant("Acme")
    globex, _ = stores.tenant("Globex")
    ann = user_of(acme.id, "Ann@Acme.example")
    stores.identity.add_user(ann)

    with pytest.raises(Conflict):  # the same address in another case
        stores.identity.add_user(user_of(acme.id, "ann@acme.EXAMPLE"))
    with pytest.raises(Conflict):  # the same id
        stores.identity.add_user(ann)
    stores.identity.add_user(user_of(globex.id, "ann@acme.example"))  # another tenant may have it

    assert stores.identity.get_user(acme.id, ann.id) == ann
    assert stores.identity.get_user(globex.id, ann.id) is None
    assert {u.id for u in stores.identity.get_users(acme.id, [ann.id, owner.user_id, "missing"])} == {
        ann.id,
        owner.user_id,
    }
    assert {u.tenant_id for u in stores.identity.users_with_login_email("ANN@acme.example")} == {acme.id, globex.id}
    with pytest.raises(Conflict):  # a tenant exists once
        stores.identity.create_tenant(acme, user_of(acme.id, "other@acme.example", Role.OWNER))


def test_listing_users_pages_through_every_user_once(stores: Stores) -> None:
    acme, owner = stores.tenant()
    added = [user_of(acme.id, f"u{n}@acme.example") for n in range(5)]
    for user in added:
        stores.identity.add_user(user)
    listed = walk(lambda page: stores.identity.list_users(acme.id, page), limit=2)
    assert [u.id for u in listed] == sorted([owner.user_id, *(u.id for u in added)])


def test_a_user_update_is_version_checked_and_moves_address_and_owner_count(stores: Stores) -> None:
    acme, owner_principal = stores.tenant()
    owner = stores.identity.get_user(acme.id, owner_principal.user_id)
    assert owner is not None
    ann = user_of(acme.id, "ann@acme.example")
    stores.identity.add_user(ann)

    moved = ann.model_copy(update={"email": "anna@acme.example", "name": "Anna"})
    saved = stores.identity.update_user(ann, moved, expected_version=1)
    assert saved.version == 2 and stores.identity.get_user(acme.id, ann.id) == saved
    with pytest.raises(PreconditionFailed):  # version 1 is gone
        stores.identity.update_user(ann, moved.model_copy(update={"name": "Late"}), expected_version=1)
    stores.identity.add_user(user_of(acme.id, "ann@acme.example"))  # the old address is free again
    with pytest.raises(Conflict):  # the new one is taken
        stores.identity.add_user(user_of(acme.id, "ANNA@acme.example"))

    demoted = owner.model_copy(update={"role": Role.ADMIN})
    with pytest.raises(Conflict):  # the last active owner stays
        stores.identity.update_user(owner, demoted, expected_version=owner.version)
    promoted = saved.model_copy(update={"role": Role.OWNER})
    stores.identity.update_user(saved, promoted, expected_version=2)
    stores.identity.update_user(owner, demoted, expected_version=owner.version)  # now there is another
    tenant = stores.identity.get_tenant(acme.id)
    assert tenant is not None and tenant.owner_count == 1


def test_tokens_are_kept_per_user_and_listed_by_kind(stores: Stores) -> None:
    acme, owner = stores.tenant()

    def token(kind: TokenKind, name: str) -> StoredToken:
        return StoredToken(
            id=new_id(),
            tenant_id=acme.id,
            user_id=owner.user_id,
            kind=kind,
            name=name,
            secret_hash="h",
            expires_at=NOW + timedelta(days=7),
            created_at=NOW,
            updated_at=NOW,
        )

    api = [token(TokenKind.API, f"api {n}") for n in range(3)]
    session = token(TokenKind.SESSION, "login")
    for item in [*api, session]:
        stores.identity.put_token(item)
    with pytest.raises(Conflict):
        stores.identity.put_token(session)

    listed = walk(lambda page: stores.identity.list_tokens(acme.id, owner.user_id, TokenKind.API, page), limit=2)
    assert [t.id for t in listed] == sorted(t.id for t in api)
    tenant, user, found = stores.identity.credential_items(acme.id, owner.user_id, session.id)
    assert tenant is not None and tenant.id == acme.id and user is not None and found == session
    assert stores.identity.credential_items(acme.id, owner.user_id, "missing")[2] is None
    assert stores.identity.delete_token(acme.id, owner.user_id, session.id) == session
    assert stores.identity.delete_token(acme.id, owner.user_id, session.id) is None


def test_groups_carry_their_members_and_are_version_checked(stores: Stores) -> None:
    acme, owner = stores.tenant()
    ann = user_of(acme.id, "ann@acme.example")
    bob = user_of(acme.id, "bob@acme.example")
    stores.identity.add_user(ann)
    stores.identity.add_user(bob)

    def group(name: str, members: list[str]) -> Group:
        return Group(id=new_id(), tenant_id=acme.id, name=name, member_ids=members, created_at=NOW, updated_at=NOW)

    sales = stores.identity.save_group(None, group("Sales", [ann.id]))
    with pytest.raises(Conflict):  # names are unique, ignoring case
        stores.identity.save_group(None, group(" sales ", []))
    with pytest.raises(Conflict):  # members are users of the tenant
        stores.identity.save_group(None, group("Ghosts", ["no-such-user"]))
    assert [g.name for g in walk(lambda page: stores.identity.list_groups(acme.id, page), limit=1)] == ["Sales"]

    renamed = stores.identity.save_group(sales, sales.model_copy(update={"name": "Sales EU", "member_ids": [bob.id]}))
    assert renamed.version == 2
    assert group_ids(stores, acme.id, ann.id) == []
    assert group_ids(stores, acme.id, bob.id) == [sales.id]
    with pytest.raises(PreconditionFailed):
        stores.identity.save_group(sales, sales.model_copy(update={"name": "Stale"}))
    stores.identity.save_group(None, group("Sales", []))  # the old name is free again

    with pytest.raises(PreconditionFailed):
        stores.identity.delete_group(sales)  # version 1
    stores.identity.delete_group(renamed)
    assert stores.identity.get_group(acme.id, sales.id) is None
    assert group_ids(stores, acme.id, bob.id) == []
    assert stores.identity.get_groups(acme.id, [sales.id]) == []


def test_module_access_is_version_checked(stores: Stores) -> None:
    # (Failed logins are counted by the one rate counter now: tests/contract/test_rate_counters.py.)
    acme, owner = stores.tenant()
    access = CrmAccess(enabled=True, restricted=True, user_ids=[owner.user_id])
    saved = stores.identity.save_crm_access(acme.id, access, expected_version=1, at=NOW, by=owner.user_id)
    assert saved.version == 2 and saved.crm_access == access
    assert stores.identity.get_tenant(acme.id) == saved
    with pytest.raises(PreconditionFailed):
        stores.identity.save_crm_access(acme.id, CrmAccess(), expected_version=1, at=NOW, by=owner.user_id)
