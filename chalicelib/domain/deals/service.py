"""Use cases on deals (DEA-1..8): create, read, change, change the stage,
delete, list; projects; the contact cascade.

Every read and write goes through the access policy (``ListAccess``); hidden
deals are 404. Writes name the version they change (If-Match). Each write is
one transaction (storage/deals.py): the deal, its index entries, tag registry,
change log, custom-field and stage use counters, pipeline aggregates and, for
a stage change, the history event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from chalicelib.domain.deals.models import (
    BidType,
    Deal,
    DealQuery,
    NewDeal,
    NewProject,
    Project,
    StageChange,
    check_budget,
    entry_matches,
)
from chalicelib.domain.identity.models import Tenant
from chalicelib.domain.records.listed_access import RestrictedRecords, RestrictedRecordService, entry_access
from chalicelib.domain.records.parents import Parents
from chalicelib.domain.settings.lists import ListEntry, StageStatus
from chalicelib.domain.shared import access
from chalicelib.domain.shared.access import Operation
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import Conflict, FieldError, ValidationFailed
from chalicelib.domain.shared.events import RecordDeleted
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal, Role
from chalicelib.domain.shared.records import require_version
from chalicelib.domain.shared.text import fold

if TYPE_CHECKING:
    from chalicelib.domain.deals.ports import DealStages, DealStore
    from chalicelib.domain.identity.ports import UserDirectory
    from chalicelib.domain.notifications.ports import Notify
    from chalicelib.domain.settings.ports import CustomValues, MoneySettingsReader
    from chalicelib.domain.shared.ports import Entry, EventPublisher

STAGES = "deal-stages"


def today_in(time_zone: str, now: datetime) -> date:
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except Exception:  # an unknown zone name: fall back to UTC rather than fail a write
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


class Deals(RestrictedRecordService[Deal]):
    _store: DealStore

    def __init__(
        self,
        store: DealStore,
        users: UserDirectory,
        notifier: Notify,
        events: EventPublisher,
        parents: Parents,
        stages: DealStages,
        money: MoneySettingsReader,
        custom_fields: CustomValues | None = None,
        clock: Clock = utc_now,
    ):
        self._store = store
        self._stages = stages
        self._money = money
        self._events = events
        self._parents = parents
        self._clock = clock
        self._rules = RestrictedRecords("deal", users, notifier, parents, custom_fields)

    # ---- reading ----

    def list(self, principal: Principal, query: DealQuery, page: PageRequest) -> Slice[Deal]:
        readable = access.readable(principal)
        # stage_status follows the stages' status *now* (an admin may turn an
        # open stage into a won one): it becomes a filter on stage ids.
        status_stages: set[str] | None = None
        if query.stage_status:
            status_stages = {s.id for s in self._stages.list(principal, STAGES) if s.status == query.stage_status}

        def visible(entry: Entry) -> bool:
            if status_stages is not None and entry.get("stage_id") not in status_stages:
                return False
            return readable(entry_access(entry)) and entry_matches(entry, query)

        close_range = None
        facet = "all"
        only_stage = next(iter(status_stages)) if status_stages and len(status_stages) == 1 else None
        for name, value in (
            ("contact", query.contact_id),
            ("tag", fold(query.tag) if query.tag else None),
            ("resp", query.responsible_id),
            ("stage", query.stage_id or only_stage),
        ):
            if value:
                facet = f"{name}#{value}"
                break
        else:
            if query.close_from or query.close_to:
                from_ = query.close_from.isoformat() if query.close_from else None
                to = query.close_to.isoformat() if query.close_to else None
                close_range = ((from_ or "") + "#", (to or "9999-12-31") + "#~")
        if status_stages == set():
            return Slice([], None)
        return self._store.query_deals(principal.tenant_id, facet, page, close_range=close_range, visible=visible)

    # ---- writing ----

    def create(
        self,
        principal: Principal,
        tenant: Tenant,
        request: NewDeal,
        *,
        record_id: str | None = None,
        extra: Sequence[Any] = (),
    ) -> Deal:
        """``record_id``/``extra``: a derived id and storage operations for the
        deal's own transaction (an import row's marker), as Contacts.create."""
        now = self._clock()
        fields = request.model_dump(exclude_unset=True)
        stage = self._stage(principal, fields.pop("stage_id", None))
        currency = fields.get("currency") or self._money.get(principal).currency
        deal = Deal(
            id=record_id or new_id(),
            tenant_id=principal.tenant_id,
            title=request.title,
            currency=currency,
            responsible_id=principal.user_id,
            stage_id=stage.id,
            stage_status=stage.status or StageStatus.OPEN,  # a deal stage always has one
            probability=stage.probability or 0,
            actual_close_date=None if stage.status == StageStatus.OPEN else today_in(tenant.time_zone, now),
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        deal = self._apply(principal, deal, None, fields)
        saved = self._store.create(deal, by=principal.user_id, **({"extra": extra} if extra else {}))
        self._rules.notify_listed(principal, [], saved.access_list, saved.title, f"/v1/deals/{saved.id}")
        return saved

    def change_stage(
        self, principal: Principal, tenant: Tenant, deal_id: str, request: StageChange, *, expected_version: int
    ) -> Deal:
        """DEA-4: copies the stage's probability, sets the actual close date
        (today in the tenant's time zone) for won/lost and clears it for open,
        and records "Stage: A -> B" in the history, in one transaction."""
        before = self.get(principal, deal_id, Operation.WRITE)
        require_version(before, expected_version, "deal")
        stage = self._stage(principal, request.stage_id)
        now = self._clock()
        closed = None if stage.status == StageStatus.OPEN else today_in(tenant.time_zone, now)
        after = before.model_copy(
            update={
                "stage_id": stage.id,
                "stage_status": stage.status,
                "probability": stage.probability or 0,
                "actual_close_date": closed,
                "updated_at": now,
                "updated_by": principal.user_id,
            }
        )
        old = self._stages.resolve(principal, STAGES, before.stage_id)
        text = f"Stage: {old.name if old else before.stage_id} -> {stage.name}"
        return self._store.change_stage(principal, before, after, event_text=text)

    def delete(self, principal: Principal, deal_id: str, *, expected_version: int | None) -> Deal:
        deal = self.get(principal, deal_id, Operation.DELETE)
        require_version(deal, expected_version, "deal")
        blockers = self._parents.delete_blockers(principal, "deal", deal.id)
        if blockers:
            raise Conflict("The deal cannot be deleted: " + "; ".join(blockers))
        self._store.delete(deal, by=principal.user_id, at=self._clock())
        # History, files and tasks hang off it: removed in the background (parents cascades).
        self._events.publish(RecordDeleted(tenant_id=principal.tenant_id, record_kind="deal", record_id=deal.id))
        return deal

    def unlink_contact(self, tenant_id: str, contact_id: str) -> int:
        """Cascade of a deleted contact: deals lose it as main contact and as
        member; nothing else changes. Safe to rerun (finds only deals still linked)."""
        return self.move_contact(tenant_id, contact_id, None)

    def move_contact(self, tenant_id: str, contact_id: str, to_id: str | None) -> int:
        """Deals naming ``contact_id`` name ``to_id`` instead (a contact merge),
        or, with None, lose it. Idempotent: reads the contact's facet, so a
        rerun finds only the deals still linked."""
        system = Principal(tenant_id=tenant_id, user_id="system", role=Role.ADMIN)
        moved = 0
        for entry in self._store.entries(tenant_id, f"contact#{contact_id}"):
            deal = self._store.get(tenant_id, entry["rid"])
            if deal is None or contact_id not in deal.contact_ids:
                continue
            main = to_id if deal.contact_id == contact_id else deal.contact_id
            members = [to_id if m == contact_id else m for m in deal.member_ids]
            members = [m for m in dict.fromkeys(members) if m and m != main]
            after = deal.model_copy(
                update={
                    "contact_id": main,
                    "member_ids": members,
                    "updated_at": self._clock(),
                    "updated_by": system.user_id,
                }
            )
            self._store.update(deal, after, by=system.user_id)
            moved += 1
        return moved

    # ---- projects (DEA-7) ----

    def start_project(self, principal: Principal, deal_id: str, request: NewProject) -> Project:
        deal = self.get(principal, deal_id, Operation.WRITE)
        members = [self._rules.active_user(principal, u, "member_ids") for u in dict.fromkeys(request.member_ids)]
        now = self._clock()
        project = Project(
            id=new_id(),
            tenant_id=principal.tenant_id,
            deal_id=deal.id,
            title=request.title,
            description=request.description,
            member_ids=members,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        self._store.add_project(deal, project)
        return project

    def forget_projects(self, tenant_id: str, deal_id: str) -> int:
        """Cascade of a deleted deal: its projects stay, no longer linked
        (``deal_id`` null), and the deal's link items go. Idempotent."""
        return self._store.unlink_projects(tenant_id, deal_id)

    def projects(self, principal: Principal, deal_id: str, page: PageRequest) -> Slice[Project]:
        deal = self.get(principal, deal_id)
        return self._store.projects(principal.tenant_id, deal.id, page)

    # ---- rules ----

    def _stage(self, principal: Principal, stage_id: str | None) -> ListEntry:
        if stage_id:
            stage = self._stages.reference(principal, STAGES, stage_id, field_name="stage_id")
            return stage
        stages = sorted(self._stages.list(principal, STAGES), key=lambda s: s.order)
        first_open = next((s for s in stages if s.status == StageStatus.OPEN), None)
        if first_open is None:
            raise ValidationFailed(
                "There is no open deal stage; name one.",
                errors=[FieldError("stage_id", "required: the tenant has no open stage")],
            )
        return first_open

    def _apply(self, principal: Principal, deal: Deal, before: Deal | None, fields: dict[str, Any]) -> Deal:
        """The deal with ``fields`` applied, every value checked."""
        plain = (
            "title",
            "description",
            "amount",
            "currency",
            "bid_type",
            "periods",
            "expected_close_date",
            "probability",
        )
        update: dict[str, Any] = {k: fields[k] for k in plain if k in fields}
        if "bid_type" in update and update["bid_type"] == BidType.FIXED and "periods" not in fields:
            update["periods"] = None
        if "contact_id" in fields:
            self._rules.contacts(
                principal, [fields["contact_id"]], "contact_id", current=before.contact_ids if before else ()
            )
            update["contact_id"] = fields["contact_id"]
        if "member_ids" in fields:
            members = list(dict.fromkeys(fields["member_ids"] or []))
            self._rules.contacts(principal, members, "member_ids", current=before.contact_ids if before else ())
            update["member_ids"] = members
        if fields.get("responsible_id") and fields["responsible_id"] != deal.responsible_id:
            update["responsible_id"] = self._rules.active_user(principal, fields["responsible_id"], "responsible_id")
        if "access_list" in fields:
            update["access_list"] = self._rules.access_list(
                principal, fields["access_list"] or [], deal.created_by, current=before.access_list if before else ()
            )
        if "tags" in fields:
            tags = fields["tags"] or []
            update["tags"] = self._rules.tags(tags, self._store.tag_names(principal.tenant_id) if tags else {})
        if "custom_fields" in fields:
            update["custom_fields"] = self._rules.custom_values(
                principal, deal.custom_fields, fields["custom_fields"] or {}
            )
        result = deal.model_copy(update=update)
        return check_budget(result, fields)
