"""Users of a tenant (TEN-2): who may create, change and deactivate whom.

- Owners and admins manage users; only an owner may make or change an owner.
- Nobody raises their own role; lowering it is allowed.
- The last active owner can be neither demoted nor deactivated (a counter on
  the tenant, changed under a condition in the same transaction).
- Everyone in the tenant may read the user directory (names, roles), since
  records name their managers and responsible users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, Field

from chalicelib.domain.identity.models import Email, Name, Password, User, UserStatus
from chalicelib.domain.identity.secrets import hash_password, verify_password
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import FieldError, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import ROLE_RANK, Principal, Role

if TYPE_CHECKING:
    from chalicelib.domain.identity.ports import Invitations, UserStore
    from chalicelib.domain.notifications.ports import Notify


class NewUser(Model):
    model_config = ConfigDict(extra="forbid")
    email: Email
    name: Name
    role: Role = Role.USER
    password: Password | None = Field(default=None, description="Without one, an invitation token is returned.")


class UserChanges(Model):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    email: Email | None = None
    role: Role | None = None
    status: UserStatus | None = Field(default=None, description="active or deactivated")
    password: Password | None = None
    current_password: str | None = Field(
        default=None, max_length=256, description="Required when changing your own password."
    )


class Users:
    def __init__(self, store: UserStore, auth: Invitations, notifier: Notify, clock: Clock = utc_now):
        self._store = store
        self._auth = auth
        self._notifier = notifier
        self._clock = clock

    def get(self, principal: Principal, user_id: str) -> User:
        user = self._store.get_user(principal.tenant_id, user_id)
        if user is None:
            raise NotFound("No such user.")
        return user

    def list(self, principal: Principal, page: PageRequest) -> Slice[User]:
        return self._store.list_users(principal.tenant_id, page)

    def create(self, principal: Principal, request: NewUser) -> tuple[User, str | None]:
        """The new user and, when no password was given, their invitation token."""
        if not principal.is_admin:
            raise Forbidden("Only owners and admins add users.")
        if request.role == Role.OWNER and not principal.is_owner:
            raise Forbidden("Only an owner can add another owner.")
        now = self._clock()
        user = User(
            id=new_id(),
            tenant_id=principal.tenant_id,
            email=request.email,
            name=request.name,
            role=request.role,
            status=UserStatus.ACTIVE if request.password else UserStatus.INVITED,
            password_hash=hash_password(request.password) if request.password else None,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        invitation, invite_record = (None, None)
        if request.password is None:
            invitation, invite_record = self._auth.invitation_for(user)
        self._store.add_user(user, invite_record)
        self._notifier.notify(
            principal.tenant_id,
            [user.id],
            "user.added",
            "You were added to the CRM",
            f"/v1/users/{user.id}",
            email_note=_invitation_note(invitation),
        )
        return user, invitation

    def update(self, principal: Principal, user_id: str, changes: UserChanges, *, expected_version: int) -> User:
        before = self.get(principal, user_id)
        self._authorise_change(principal, before, changes)
        update: dict[str, Any] = {
            k: v
            for k, v in changes.model_dump(exclude_unset=True).items()
            if k not in ("password", "current_password") and v is not None
        }
        if changes.status == UserStatus.INVITED:
            raise ValidationFailed(
                "A user cannot be set back to invited.", errors=[FieldError("status", "must be active or deactivated")]
            )
        if changes.status == UserStatus.ACTIVE and before.status == UserStatus.INVITED:
            raise ValidationFailed(
                "An invited user becomes active by accepting the invitation.",
                errors=[FieldError("status", "the invitation is still open")],
            )
        if changes.password is not None:
            update["password_hash"] = hash_password(changes.password)
        after = before.model_copy(update={**update, "updated_at": self._clock(), "updated_by": principal.user_id})
        return self._store.update_user(before, after, expected_version=expected_version)

    def deactivate(self, principal: Principal, user_id: str, *, expected_version: int | None = None) -> User:
        before = self.get(principal, user_id)
        return self.update(
            principal,
            user_id,
            UserChanges(status=UserStatus.DEACTIVATED),
            expected_version=expected_version if expected_version is not None else before.version,
        )

    @staticmethod
    def _authorise_change(principal: Principal, target: User, changes: UserChanges) -> None:
        is_self = principal.user_id == target.id
        if not is_self and not principal.is_admin:
            raise Forbidden("Only owners and admins change other users.")
        if not principal.is_owner and (target.role == Role.OWNER or changes.role == Role.OWNER) and not is_self:
            raise Forbidden("Only an owner can change an owner or make one.")
        if changes.role is not None and changes.role != target.role:
            if is_self and ROLE_RANK[changes.role] > ROLE_RANK[target.role]:
                raise Forbidden("Nobody can raise their own role.")
            if not is_self and not principal.is_admin:
                raise Forbidden("Only owners and admins change roles.")
        if is_self and changes.status == UserStatus.ACTIVE and target.status != UserStatus.ACTIVE:
            raise Forbidden("A deactivated user cannot reactivate themselves.")
        if changes.password is not None and is_self:
            if not changes.current_password or not verify_password(changes.current_password, target.password_hash):
                raise ValidationFailed(
                    "To change your password, give the current one.",
                    errors=[FieldError("current_password", "is missing or wrong")],
                )


def _invitation_note(invitation: str | None) -> str | None:
    if invitation is None:
        return None
    return (
        "Set your password with POST /v1/auth/accept-invitation and this one-time token "
        f"(valid for 7 days):\n\n{invitation}"
    )
