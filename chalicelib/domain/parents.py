"""Records that other records hang off: contacts, deals and cases.

History events, files, tasks and the change log attach to a *parent* named by
kind and id. Each parent kind registers a resolver that loads the record's
access fields; everything else asks ``resolve`` and never loads a parent
itself. Hidden or missing parents are NotFound, never Forbidden.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from chalicelib.domain import access
from chalicelib.domain.errors import NotFound
from chalicelib.domain.principal import Principal

PARENT_KINDS = ("contact", "deal", "case")


@dataclass(frozen=True)
class ParentRef:
    kind: str
    id: str
    title: str
    # The record's access description for the access policy (ContactAccess, ListAccess).
    access: Any

    def allows(self, principal: Principal, operation: access.Operation) -> bool:
        return access.allowed(principal, operation, self.access)


# kind -> (principal, id) -> ParentRef | None (None: no such record)
Resolver = Callable[[Principal, str], "ParentRef | None"]
_RESOLVERS: dict[str, Resolver] = {}


def register_parent(kind: str, resolver: Resolver) -> None:
    if kind not in PARENT_KINDS:
        raise ValueError(f"unknown parent kind {kind}")
    _RESOLVERS[kind] = resolver


def resolve(principal: Principal, kind: str, record_id: str) -> ParentRef:
    """The parent if it exists and the caller may read it; NotFound otherwise."""
    resolver = _RESOLVERS.get(kind)
    found = resolver(principal, record_id) if resolver else None
    if found is None or not found.allows(principal, access.Operation.READ):
        raise NotFound(f"The {kind} does not exist.")
    return found


# ---- delete guards: other features may forbid deleting a record ----

# (principal, kind, id) -> reasons it must stay (empty: may go)
DeleteGuard = Callable[[Principal, str, str], list[str]]
_DELETE_GUARDS: list[DeleteGuard] = []


def register_delete_guard(guard: DeleteGuard) -> None:
    if guard not in _DELETE_GUARDS:
        _DELETE_GUARDS.append(guard)


def delete_blockers(principal: Principal, kind: str, record_id: str) -> list[str]:
    return [reason for guard in _DELETE_GUARDS for reason in guard(principal, kind, record_id)]


# ---- cascades: what goes when a record goes ----

# (tenant_id, record_id) -> None; runs in the background after the record is
# deleted, must be idempotent (a redelivered job runs it again).
Cascade = Callable[[str, str], None]
_CASCADES: dict[str, list[Cascade]] = {}


def register_cascade(kind: str, cascade: Cascade) -> None:
    hooks = _CASCADES.setdefault(kind, [])
    if cascade not in hooks:
        hooks.append(cascade)


def cascades(kind: str) -> list[Cascade]:
    return list(_CASCADES.get(kind, []))
