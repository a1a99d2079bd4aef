"""Use cases on cases (CAS-1..4): create, read, change, close, reopen,
delete, list; the contact cascade. Access, participants, tags and custom
values follow the rules deals share (domain/records/listed_access.py); hidden
cases are 404. Each write is one transaction (storage/cases.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.domain.cases.models import Case, CaseQuery, NewCase, entry_matches
from chalicelib.domain.records.listed_access import RestrictedRecords, RestrictedRecordService, entry_access
from chalicelib.domain.records.parents import Parents
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import Operation
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import Conflict
from chalicelib.domain.shared.events import RecordDeleted
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import require_version
from chalicelib.domain.shared.text import fold

if TYPE_CHECKING:
    from chalicelib.domain.cases.ports import CaseStore
    from chalicelib.domain.identity.ports import UserDirectory
    from chalicelib.domain.notifications.ports import Notify
    from chalicelib.domain.settings.ports import CustomValues
    from chalicelib.domain.shared.ports import Entry, EventPublisher


class Cases(RestrictedRecordService[Case]):
    _store: CaseStore

    def __init__(
        self,
        store: CaseStore,
        users: UserDirectory,
        notifier: Notify,
        events: EventPublisher,
        parents: Parents,
        custom_fields: CustomValues | None = None,
        clock: Clock = utc_now,
    ):
        self._store = store
        self._events = events
        self._parents = parents
        self._clock = clock
        self._rules = RestrictedRecords("case", users, notifier, parents, custom_fields)

    def list(self, principal: Principal, query: CaseQuery, page: PageRequest) -> Slice[Case]:
        readable = access.readable(principal)

        def visible(entry: Entry) -> bool:
            return readable(entry_access(entry)) and entry_matches(entry, query)

        facet = "all"
        if query.contact_id:
            facet = f"contact#{query.contact_id}"
        elif query.tag:
            facet = f"tag#{fold(query.tag)}"
        elif query.closed is not None:
            facet = f"closed#{'true' if query.closed else 'false'}"
        return self._store.query(principal.tenant_id, facet, page, visible=visible)

    def create(
        self, principal: Principal, request: NewCase, *, record_id: str | None = None, extra: Sequence[Any] = ()
    ) -> Case:
        """``record_id``/``extra``: as Contacts.create (an import row's derived id and marker)."""
        now = self._clock()
        case = Case(
            id=record_id or new_id(),
            tenant_id=principal.tenant_id,
            title=request.title,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        case = self._apply(principal, case, None, request.model_dump(exclude_unset=True))
        saved = self._store.create(case, by=principal.user_id, **({"extra": extra} if extra else {}))
        self._rules.notify_listed(principal, [], saved.access_list, saved.title, f"/v1/cases/{saved.id}")
        return saved

    def set_closed(self, principal: Principal, case_id: str, closed: bool, *, expected_version: int | None) -> Case:
        """CAS-4 close / reopen, with a history system event in the same transaction."""
        before = self.get(principal, case_id, Operation.WRITE)
        require_version(before, expected_version, "case")
        if before.closed == closed:
            raise Conflict(f"The case is already {'closed' if closed else 'open'}.")
        now = self._clock()
        after = before.model_copy(
            update={
                "closed": closed,
                "closed_at": now if closed else None,
                "updated_at": now,
                "updated_by": principal.user_id,
            }
        )
        return self._store.save_with_event(
            principal, before, after, event_text="Case closed" if closed else "Case reopened"
        )

    def delete(self, principal: Principal, case_id: str, *, expected_version: int | None) -> Case:
        case = self.get(principal, case_id, Operation.DELETE)
        require_version(case, expected_version, "case")
        blockers = self._parents.delete_blockers(principal, "case", case.id)
        if blockers:
            raise Conflict("The case cannot be deleted: " + "; ".join(blockers))
        self._store.delete(case, by=principal.user_id, at=self._clock())
        self._events.publish(RecordDeleted(tenant_id=principal.tenant_id, record_kind="case", record_id=case.id))
        return case

    def unlink_contact(self, tenant_id: str, contact_id: str) -> int:
        """Cascade of a deleted contact: it leaves the cases' participants (idempotent)."""
        return self.move_contact(tenant_id, contact_id, None)

    def move_contact(self, tenant_id: str, contact_id: str, to_id: str | None) -> int:
        """Cases with participant ``contact_id`` get ``to_id`` instead (a
        contact merge), or, with None, lose it. Idempotent."""
        moved = 0
        for entry in self._store.entries(tenant_id, f"contact#{contact_id}"):
            case = self._store.get(tenant_id, entry["rid"])
            if case is None or contact_id not in case.member_ids:
                continue
            members = [m for m in dict.fromkeys(to_id if m == contact_id else m for m in case.member_ids) if m]
            after = case.model_copy(update={"member_ids": members, "updated_at": self._clock(), "updated_by": "system"})
            self._store.update(case, after, by="system")
            moved += 1
        return moved

    def _apply(self, principal: Principal, case: Case, before: Case | None, fields: dict[str, Any]) -> Case:
        update: dict[str, Any] = {}
        if fields.get("title"):
            update["title"] = fields["title"]
        if "member_ids" in fields:
            members = list(dict.fromkeys(fields["member_ids"] or []))
            self._rules.contacts(principal, members, "member_ids", current=before.member_ids if before else ())
            update["member_ids"] = members
        if "access_list" in fields:
            update["access_list"] = self._rules.access_list(
                principal, fields["access_list"] or [], case.created_by, current=before.access_list if before else ()
            )
        if "tags" in fields:
            tags = fields["tags"] or []
            update["tags"] = self._rules.tags(tags, self._store.tag_names(principal.tenant_id) if tags else {})
        if "custom_fields" in fields:
            update["custom_fields"] = self._rules.custom_values(
                principal, case.custom_fields, fields["custom_fields"] or {}
            )
        return case.model_copy(update=update)
