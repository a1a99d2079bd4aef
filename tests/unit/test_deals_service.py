"""Deals, their stages and the pipeline as the services decide (DEA-1..8),
over in-memory twins."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.contacts.models import NewContact
from chalicelib.domain.deals.models import Deal, DealChanges, DealQuery, NewDeal, StageChange
from chalicelib.domain.records.history import HistoryFilter
from chalicelib.domain.settings.currency import ExchangeRates, MissingRates
from chalicelib.domain.settings.lists import ListEntry
from chalicelib.domain.shared.errors import Forbidden, NotFound
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from tests.unit.conftest import FixedClock, Unit, UnitTenant


def stages(unit: Unit, acme: UnitTenant) -> dict[str, ListEntry]:
    return {s.name: s for s in unit.settings_lists.list(acme.owner, "deal-stages")}


def new_deal(unit: Unit, acme: UnitTenant, by: Principal, title: str = "Website", **fields: Any) -> Deal:
    return unit.deals.create(by, acme.record, NewDeal(title=title, **fields))


def test_a_deal_starts_in_the_first_open_stage_and_a_stage_change_is_recorded(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant(time_zone="Pacific/Auckland")
    deal = new_deal(unit, acme, acme.owner, amount="1200.00")
    assert (deal.stage_id, deal.probability, deal.currency) == (stages(unit, acme)["Initial contact"].id, 1, "EUR")

    # 23:00 UTC on 2 March is already 3 March in Auckland.
    clock.now = datetime(2026, 3, 2, 23, 0, tzinfo=clock.now.tzinfo)
    won = stages(unit, acme)["Closed won"]
    closed = unit.deals.change_stage(acme.owner, acme.record, deal.id, StageChange(stage_id=won.id), expected_version=1)
    assert (closed.stage_status, closed.probability, closed.actual_close_date) == ("won", 100, date(2026, 3, 3))
    events = unit.history.list(acme.owner, "deal", deal.id, HistoryFilter(), PageRequest()).items
    assert [e.text for e in events] == ["Stage: Initial contact -> Closed won"]
    with pytest.raises(ValidationError, match="PUT /v1/deals"):  # the stage changes through its own operation only
        DealChanges.model_validate({"stage_id": won.id})


def test_a_private_deal_is_seen_by_its_list_and_listed_users_are_told(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob, eve = acme.add_user("ann"), acme.add_user("bob"), acme.add_user("eve")
    deal = new_deal(unit, acme, ann, "Secret", access_list=[bob.user_id])
    assert deal.access_list == [ann.user_id, bob.user_id]  # the creator joins a non-empty list
    assert [n.subject for n in unit.notifier.inbox(bob, PageRequest()).items] == [
        "You were given access to the deal Secret"
    ]

    with pytest.raises(NotFound):
        unit.deals.get(eve, deal.id)
    assert unit.deals.list(eve, DealQuery(), PageRequest()).items == []
    with pytest.raises(Forbidden):  # listed users work on it but do not change the list
        unit.deals.update(bob, deal.id, DealChanges(access_list=[]), expected_version=1)
    opened = unit.deals.update(ann, deal.id, DealChanges(access_list=[]), expected_version=1)
    assert unit.deals.get(eve, deal.id) == opened


def test_the_pipeline_sums_what_the_caller_may_see_in_the_default_currency(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    proposal = stages(unit, acme)["Proposal"]  # 75 %
    new_deal(unit, acme, ann, "public", amount="100.00", stage_id=proposal.id)
    new_deal(
        unit, acme, ann, "hourly", amount="10.00", currency="USD", bid_type="hour", periods=3, stage_id=proposal.id
    )
    new_deal(unit, acme, ann, "private", amount="1000.00", stage_id=proposal.id, access_list=[ann.user_id])

    with pytest.raises(MissingRates):  # USD cannot be summed in EUR without a rate
        unit.deal_pipeline.get(bob)
    money = unit.currency_settings.get(acme.owner)
    rates = ExchangeRates.model_validate({"rates": [{"from": "USD", "to": "EUR", "rate": "0.5"}]})
    unit.currency_settings.set_rates(acme.owner, rates, expected_version=money.version)

    def proposal_row(principal: Principal) -> tuple[int, str, str]:
        row = next(s for s in unit.deal_pipeline.get(principal).stages if s.stage_id == proposal.id)
        return row.count, row.sum, row.weighted_sum

    assert proposal_row(bob) == (2, "115.00", "86.25")  # not the private deal
    assert proposal_row(ann) == (3, "1115.00", "836.25")  # she is on its list
    assert proposal_row(acme.owner) == (3, "1115.00", "836.25")  # admins see every deal


def test_a_deleted_contact_leaves_the_deals_that_named_it(unit: Unit) -> None:
    acme = unit.tenant()
    anna = unit.contacts.create(acme.owner, acme.record, NewContact(kind="person", first_name="Anna", last_name="Lee"))
    bo = unit.contacts.create(acme.owner, acme.record, NewContact(kind="person", first_name="Bo", last_name="Ek"))
    deal = new_deal(unit, acme, acme.owner, contact_id=anna.id, member_ids=[bo.id])
    assert [d.id for d in unit.deals.list(acme.owner, DealQuery(contact_id=bo.id), PageRequest()).items] == [deal.id]

    unit.contacts.delete(acme.owner, anna.id, expected_version=1)
    unit.run_jobs()
    after = unit.deals.get(acme.owner, deal.id)
    assert (after.contact_id, after.member_ids) == (None, [bo.id])
    assert unit.deals.list(acme.owner, DealQuery(contact_id=anna.id), PageRequest()).items == []


def test_an_expected_close_range_lists_oldest_first(unit: Unit) -> None:
    acme = unit.tenant()
    day = date(2026, 6, 1)
    for n in (3, 1, 2):
        new_deal(unit, acme, acme.owner, f"d{n}", expected_close_date=day + timedelta(days=n))
    new_deal(unit, acme, acme.owner, "open-ended")
    query = DealQuery(close_from=day + timedelta(days=2), close_to=day + timedelta(days=3))
    assert [d.title for d in unit.deals.list(acme.owner, query, PageRequest()).items] == ["d2", "d3"]
