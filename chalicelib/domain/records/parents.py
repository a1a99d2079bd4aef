"""Records that other records hang off: contacts, deals and cases.

History events, files, tasks and the change log attach to a *parent* named by
kind and id. ``Parents`` holds a resolver per kind that loads the record's
access fields; everything else asks ``resolve`` and never loads a parent
itself. Hidden or missing parents are NotFound, never Forbidden. What a
deleted parent takes with it is listed in bootstrap/events.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import AccessRecord, Operation
from chalicelib.domain.shared.errors import NotFound
from chalicelib.domain.shared.principal import Principal

PARENT_KINDS = ("contact", "deal", "case")


@dataclass(frozen=True)
class ParentRef:
    kind: str
    id: str
    title: str
    # The record's access description for the access policy (ContactAccess, ListAccess).
    access: AccessRecord

    def allows(self, principal: Principal, operation: Operation) -> bool:
        return access.allowed(principal, operation, self.access)


# (principal, id) -> ParentRef | None (None: no such record)
Resolver = Callable[[Principal, str], "ParentRef | None"]
# (principal, kind, id) -> reasons the record must stay (empty: it may go),
# e.g. "an invoice names this contact".
DeleteGuard = Callable[[Principal, str, str], list[str]]


class Parents:
    """The one way to reach the record something hangs off. Built by the
    composition root with a resolver per parent kind and the delete guards
    other features add; hidden or missing parents are NotFound."""

    def __init__(self, resolvers: Mapping[str, Resolver], guards: Sequence[DeleteGuard] = ()):
        unknown = set(resolvers) - set(PARENT_KINDS)
        if unknown:
            raise ValueError(f"unknown parent kinds {sorted(unknown)}")
        self._resolvers = dict(resolvers)
        self._guards = tuple(guards)

    def resolve(self, principal: Principal, kind: str, record_id: str) -> ParentRef:
        """The parent if it exists and the caller may read it; NotFound otherwise."""
        resolver = self._resolvers.get(kind)
        found = resolver(principal, record_id) if resolver else None
        if found is None or not found.allows(principal, Operation.READ):
            raise NotFound(f"The {kind} does not exist.")
        return found

    def delete_blockers(self, principal: Principal, kind: str, record_id: str) -> list[str]:
        return [reason for guard in self._guards for reason in guard(principal, kind, record_id)]
