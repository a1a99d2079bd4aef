"""Who may do what to which record: the one access policy of the CRM.

Nothing else in the code base decides access. A service loads a record,
describes its access fields with one of the small value types below and asks
`require(principal, operation, record)` (or `allowed`, or filters a list
with `readable(principal)`). Facts that need another record (can the caller
read the contact a task is linked to?) are computed by the caller through
this same module and passed in as booleans.

Operations: R = read, W = write (edit), D = delete, A = change access
(managers and share mode of a contact, access list of a deal or case,
reassigning a task, moderating a history event, ...).

Owner and admin (`Principal.is_admin`) may do every operation on every
record, private ones included (TEN-5). The table is for role `user`:

    record                               the user is ...              R W D A
    -----------------------------------  ---------------------------  -------
    contact, private (CON-9)             a manager                    R W D A
                                         anyone else, creator too     - - - -
    contact, shared for reading          a manager                    R W D A
                                         anyone else, creator too     R - - -
    contact, shared for reading/writing  a manager                    R W D A
                                         anyone else, creator too     R W - -
    deal or case, public                 the creator                  R W D A
      (empty access list; DEA-6, CAS-2)  anyone else, responsible too R W D -
    deal or case, private                the creator, listed or not   R W D A
      (non-empty access list)            on the list                  R W D -
                                         responsible, not on the list - - - -
                                         anyone else                  - - - -
    task (TSK-*)                         responsible                  R W D A
                                         the creator                  R W D A
                                         able to read the linked      R - - -
                                           contact / deal / case
                                         anyone else                  - - - -
    history event (HIS-1),               its author                   R W D A
      parent readable                    anyone else                  R - - -
    history event, parent not readable   anyone, its author too       - - - -
    call (VOIP-8)                        rung, answering or calling   R - - -
                                         anyone else                  - - - -
    invoice (INV-*)                      the creator                  R W D A
                                         able to read the client      R - - -
                                         anyone else                  - - - -

    Adding a history event: allowed exactly when the parent (contact, deal or
    case) is readable (`may_create_history`); a note needs read, not write.

Decisions behind the table:
- A contact's creator has no right of their own; they are a manager by
  default (CON-8, set when the contact is created), and lose access if
  removed from the managers of a private contact.
- Deleting a contact and changing its access stay with managers even when it
  is shared for writing.
- The creator of a deal or case always reads, writes, deletes it and changes
  its access, even if not on its list (they could put themselves on it
  anyway). Other users on the list may not change the list.
- The responsible user of a deal or case gets nothing for being responsible:
  access comes from the list only (`ListAccess.responsible_id` is carried so
  that this decision is visible and pinned by the tests).
- Being on a list means the user's own id is on it; groups are not expanded
  (DEA-6 and CAS-2 speak of listed users).
- Whether an invoice may be edited in its status (only drafts) is an
  invoice rule, not an access rule.

Hidden records: a caller who may not read a record gets NotFound, never
Forbidden, whatever the operation, so a private record's existence does not
leak. Forbidden is for a record the caller can see but not change.

Tenants: the access records carry no tenant. Tenant isolation is structural:
every key a service reads is built from `principal.tenant_id`, so a record of
another tenant is never loaded in the first place. As a guard all the same,
a principal without a tenant or user id is denied everything, and a caller
that knows the record's tenant may pass `tenant_id=`; a mismatch denies
everything (and `require` answers NotFound). TEN-3 (module disabled or
restricted to some users) is decided before a principal reaches this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import singledispatch

from chalicelib.domain.shared.errors import Forbidden, NotFound
from chalicelib.domain.shared.principal import Principal


class Operation(StrEnum):
    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    CHANGE_ACCESS = "change_access"


class ContactShare(StrEnum):
    PRIVATE = "private"
    SHARED_READ = "shared_read"
    SHARED_WRITE = "shared_write"


@dataclass(frozen=True)
class ContactAccess:
    managers: frozenset[str]
    share: ContactShare
    created_by: str  # grants nothing by itself; see the module docstring


@dataclass(frozen=True)
class ListAccess:
    """A deal or a case: public when `access_list` is empty."""

    access_list: frozenset[str]
    created_by: str
    responsible_id: str | None = None  # grants nothing by itself

    @property
    def is_private(self) -> bool:
        return bool(self.access_list)


@dataclass(frozen=True)
class TaskAccess:
    responsible_id: str
    created_by: str
    linked_readable: bool  # the caller may read the linked contact/deal/case


@dataclass(frozen=True)
class HistoryAccess:
    author_id: str
    parent_readable: bool  # the caller may read the contact/deal/case


@dataclass(frozen=True)
class InvoiceAccess:
    created_by: str
    client_readable: bool  # the caller may read the client contact


@dataclass(frozen=True)
class CallAccess:
    """A call of the call log: its operators (rung, answering or calling)."""

    participants: frozenset[str]


AccessRecord = ContactAccess | ListAccess | TaskAccess | HistoryAccess | InvoiceAccess | CallAccess

_NOTHING: frozenset[Operation] = frozenset()
_READ = frozenset({Operation.READ})
_READ_WRITE = frozenset({Operation.READ, Operation.WRITE})
_READ_WRITE_DELETE = frozenset({Operation.READ, Operation.WRITE, Operation.DELETE})
_EVERYTHING = frozenset(Operation)


# What a user (not owner, not admin) may do; one function per row group above.


@singledispatch
def _user_grants(record: object, user_id: str) -> frozenset[Operation]:
    raise TypeError(f"no access rule for {type(record).__name__}")


@_user_grants.register
def _(record: ContactAccess, user_id: str) -> frozenset[Operation]:
    if user_id in record.managers:
        return _EVERYTHING
    match record.share:
        case ContactShare.SHARED_WRITE:
            return _READ_WRITE
        case ContactShare.SHARED_READ:
            return _READ
        case _:  # PRIVATE, and anything unknown: fail closed
            return _NOTHING


@_user_grants.register
def _(record: ListAccess, user_id: str) -> frozenset[Operation]:
    if user_id == record.created_by:
        return _EVERYTHING
    if not record.is_private or user_id in record.access_list:
        return _READ_WRITE_DELETE
    return _NOTHING


@_user_grants.register
def _(record: TaskAccess, user_id: str) -> frozenset[Operation]:
    if user_id in (record.responsible_id, record.created_by):
        return _EVERYTHING
    return _READ if record.linked_readable else _NOTHING


@_user_grants.register
def _(record: HistoryAccess, user_id: str) -> frozenset[Operation]:
    if not record.parent_readable:
        return _NOTHING
    return _EVERYTHING if user_id == record.author_id else _READ


@_user_grants.register
def _(record: InvoiceAccess, user_id: str) -> frozenset[Operation]:
    if user_id == record.created_by:
        return _EVERYTHING
    return _READ if record.client_readable else _NOTHING


@_user_grants.register
def _(record: CallAccess, user_id: str) -> frozenset[Operation]:
    # The log is a record of what happened: nobody edits it, admins included (the
    # admin row grants it, but no service offers a change).
    return _READ if user_id in record.participants else _NOTHING


def _identified(principal: Principal, tenant_id: str | None) -> bool:
    if not principal.tenant_id or not principal.user_id:
        return False
    return tenant_id is None or tenant_id == principal.tenant_id


def permissions(principal: Principal, record: AccessRecord, *, tenant_id: str | None = None) -> frozenset[Operation]:
    """Every operation the principal may do on the record (e.g. for the API
    to tell a client which buttons to show)."""
    grants = _user_grants(record, principal.user_id)  # also rejects unknown record types
    if not _identified(principal, tenant_id):
        return _NOTHING
    return _EVERYTHING if principal.is_admin else grants


def allowed(
    principal: Principal, operation: Operation | str, record: AccessRecord, *, tenant_id: str | None = None
) -> bool:
    return Operation(operation) in permissions(principal, record, tenant_id=tenant_id)


def require(
    principal: Principal,
    operation: Operation | str,
    record: AccessRecord,
    *,
    what: str = "record",
    tenant_id: str | None = None,
) -> None:
    """Raise NotFound when the caller may not read the record (whatever the
    operation), Forbidden when they may read it but not do `operation`."""
    operation = Operation(operation)
    granted = permissions(principal, record, tenant_id=tenant_id)
    if Operation.READ not in granted:
        raise NotFound(f"The {what} does not exist.")
    if operation not in granted:
        raise Forbidden(f"You may not {_VERBS[operation]} this {what}.")


_VERBS = {
    Operation.READ: "read",
    Operation.WRITE: "change",
    Operation.DELETE: "delete",
    Operation.CHANGE_ACCESS: "change who has access to",
}


def readable(principal: Principal) -> Callable[[AccessRecord], bool]:
    """Predicate for filtering a list down to what the caller may see."""

    def can_read(record: AccessRecord) -> bool:
        return Operation.READ in permissions(principal, record)

    return can_read


def may_create_history(principal: Principal, parent_readable: bool) -> bool:
    """Adding a note, call or e-mail to a contact, deal or case needs read
    access to it, not write access."""
    if not _identified(principal, None):
        return False
    return principal.is_admin or parent_readable
