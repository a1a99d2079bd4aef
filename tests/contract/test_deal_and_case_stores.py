"""The deal and case ports: newest first through their facets, by expected
close date, the pipeline aggregates every deal write moves, projects, and the
history event a stage change or a closed case writes with the record."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.cases.models import Case
from chalicelib.domain.deals.models import Deal, Project
from chalicelib.domain.records.files import ParentLink
from chalicelib.domain.settings.lists import StageStatus
from chalicelib.domain.shared.clock import new_id
from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from tests.contract.conftest import NOW, Stores, walk


def everything(entry: dict[str, Any]) -> bool:
    return True


def deal(owner: Principal, title: str, stage_id: str, **fields: Any) -> Deal:
    fields.setdefault("currency", "EUR")
    return Deal(
        id=new_id(),
        tenant_id=owner.tenant_id,
        title=title,
        responsible_id=owner.user_id,
        stage_id=stage_id,
        stage_status=StageStatus.OPEN,
        probability=50,
        created_at=NOW,
        created_by=owner.user_id,
        updated_at=NOW,
        updated_by=owner.user_id,
        **fields,
    )


def sums(stores: Stores, tenant_id: str) -> dict[str, tuple[int, Decimal, Decimal]]:
    return {
        item["sk"]: (int(item["count"]), Decimal(item["value"]), Decimal(item["weighted"]))
        for item in stores.deals.aggregates(tenant_id)
    }


def test_deals_list_aggregate_and_change_stage(stores: Stores) -> None:
    acme, owner = stores.tenant()
    stage = stores.entry(acme.id, "deal-stages")
    won = stores.entry(acme.id, "deal-stages", -2)
    small = deal(owner, "small", stage.id, amount="100.00", expected_close_date=date(2026, 5, 1))
    big = deal(owner, "big", stage.id, amount="1000.00", tags=["Key"], expected_close_date=date(2026, 4, 1))
    private = deal(owner, "private", stage.id, amount="10.00", access_list=[owner.user_id])
    for item in (small, big, private):
        stores.deals.create(item, by=owner.user_id)
    with pytest.raises(Conflict):
        stores.deals.create(small, by=owner.user_id)

    newest_first = walk(
        lambda page: stores.deals.query_deals(acme.id, "all", page, close_range=None, visible=everything), 2
    )
    assert [d.title for d in newest_first] == ["private", "big", "small"]
    by_close = walk(
        lambda page: stores.deals.query_deals(
            acme.id, "all", page, close_range=("2026-01-01#", "2026-12-31#~"), visible=everything
        ),
        1,
    )
    assert [d.title for d in by_close] == ["big", "small"]
    assert [e["rid"] for e in stores.deals.entries(acme.id, "tag#key")] == [big.id]
    assert [e["rid"] for e in stores.deals.entries(acme.id, f"acl#{owner.user_id}")] == [private.id]
    assert stores.deals.tag_names(acme.id) == {"key": "Key"}
    assert sums(stores, acme.id) == {
        f"PRIV#{stage.id}#EUR": (1, Decimal("10.00"), Decimal("5")),
        f"PUB#{stage.id}#EUR": (2, Decimal("1100.00"), Decimal("550")),
    }

    closed = big.model_copy(update={"stage_id": won.id, "stage_status": StageStatus.WON, "probability": 100})
    saved = stores.deals.change_stage(owner, big, closed, event_text="Stage: A -> B")
    assert saved.version == 2
    events = stores.history.list_events(acme.id, ParentLink(kind="deal", id=big.id), PageRequest())
    assert [e.text for e in events.items] == ["Stage: A -> B"]
    assert sums(stores, acme.id)[f"PUB#{won.id}#EUR"] == (1, Decimal("1000.00"), Decimal("1000"))
    assert sums(stores, acme.id)[f"PUB#{stage.id}#EUR"][0] == 1
    assert stores.entry(acme.id, "deal-stages", -2).in_use == 1
    with pytest.raises(PreconditionFailed):
        stores.deals.change_stage(owner, big, closed, event_text="again")  # version 1 is gone
    assert len(stores.history.list_events(acme.id, ParentLink(kind="deal", id=big.id), PageRequest()).items) == 1

    stores.deals.delete(small, by=owner.user_id, at=NOW)
    assert sums(stores, acme.id)[f"PUB#{stage.id}#EUR"] == (0, Decimal(0), Decimal(0))


def test_projects_follow_their_deal(stores: Stores) -> None:
    acme, owner = stores.tenant()
    item = deal(owner, "d", stores.entry(acme.id, "deal-stages").id)
    stores.deals.create(item, by=owner.user_id)

    def project(title: str, deal_id: str | None) -> Project:
        return Project(id=new_id(), tenant_id=acme.id, deal_id=deal_id, title=title, created_at=NOW, updated_at=NOW)

    made = [project(f"p{n}", item.id) for n in range(3)]
    for each in made:
        stores.deals.add_project(item, each)
    ghost = deal(owner, "ghost", "x")
    with pytest.raises(NotFound):
        stores.deals.add_project(ghost, project("nowhere", ghost.id))
    assert [p.title for p in walk(lambda page: stores.deals.projects(acme.id, item.id, page), 2)] == ["p0", "p1", "p2"]

    assert stores.deals.unlink_projects(acme.id, item.id) == 3
    assert stores.deals.unlink_projects(acme.id, item.id) == 0  # safe to run again
    assert stores.deals.projects(acme.id, item.id, PageRequest()).items == []


def test_cases_list_by_facet_and_close_with_an_event(stores: Stores) -> None:
    acme, owner = stores.tenant("Acme")
    globex, _ = stores.tenant("Globex")

    def case(title: str, **fields: Any) -> Case:
        return Case(
            id=new_id(),
            tenant_id=acme.id,
            title=title,
            created_at=NOW,
            created_by=owner.user_id,
            updated_at=NOW,
            updated_by=owner.user_id,
            **fields,
        )

    made = [case(f"c{n}", member_ids=["contact-1"] if n < 2 else []) for n in range(3)]
    for each in made:
        stores.cases.create(each, by=owner.user_id)
    listed = walk(lambda page: stores.cases.query(acme.id, "all", page, visible=everything), 2)
    assert [c.title for c in listed] == ["c2", "c1", "c0"]
    assert [e["rid"] for e in stores.cases.entries(acme.id, "contact#contact-1")] == [made[0].id, made[1].id]
    assert stores.cases.query(globex.id, "all", PageRequest(), visible=everything).items == []

    closed = made[0].model_copy(update={"closed": True, "closed_at": NOW + timedelta(days=1)})
    saved = stores.cases.save_with_event(owner, made[0], closed, event_text="Case closed")
    assert saved.version == 2
    assert [c.title for c in stores.cases.query(acme.id, "closed#true", PageRequest(), visible=everything).items] == [
        "c0"
    ]
    events = stores.history.list_events(acme.id, ParentLink(kind="case", id=made[0].id), PageRequest())
    assert [e.text for e in events.items] == ["Case closed"]
    with pytest.raises(PreconditionFailed):
        stores.cases.update(made[0], closed, by=owner.user_id)
    stores.cases.delete(saved, by=owner.user_id, at=NOW)
    assert [e["rid"] for e in stores.cases.entries(acme.id, "contact#contact-1")] == [made[1].id]
    log = stores.changelog.list_changes(acme.id, "case", made[0].id, PageRequest())
    assert [c.action for c in log.items] == ["deleted", "updated", "created"]
