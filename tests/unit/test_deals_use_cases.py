"""Deals as users work with them (DEA-1..8): stages and probability, won and
lost, amounts and currencies, participants, access lists, tags, filters,
projects and the pipeline, over in-memory twins."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.contacts.merge import MergeRequest
from chalicelib.domain.contacts.models import Contact, NewContact
from chalicelib.domain.deals.models import (
    BidType,
    Deal,
    DealChanges,
    DealQuery,
    NewDeal,
    NewProject,
    Project,
    StageChange,
    deal_value,
)
from chalicelib.domain.identity.models import UserStatus
from chalicelib.domain.records.history import HistoryFilter
from chalicelib.domain.settings.currency import CurrencySetting, ExchangeRates
from chalicelib.domain.settings.lists import DealStageChanges, ListEntry, NewDealStage
from chalicelib.domain.shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest
from chalicelib.domain.shared.principal import Principal
from tests.unit.conftest import FixedClock, Unit, UnitTenant


def stages(unit: Unit, acme: UnitTenant) -> dict[str, ListEntry]:
    return {s.name: s for s in unit.settings_lists.list(acme.owner, "deal-stages")}


def deal(unit: Unit, acme: UnitTenant, by: Principal | None = None, title: str = "Website", **fields: Any) -> Deal:
    return unit.deals.create(by or acme.owner, acme.record, NewDeal(title=title, **fields))


def change(unit: Unit, by: Principal, found: Deal, **changes: Any) -> Deal:
    current = unit.memory.deals.get(found.tenant_id, found.id)
    assert current is not None
    return unit.deals.update(by, found.id, DealChanges(**changes), expected_version=current.version)


def to_stage(unit: Unit, acme: UnitTenant, found: Deal, name: str, by: Principal | None = None) -> Deal:
    current = unit.memory.deals.get(found.tenant_id, found.id)
    assert current is not None
    stage = stages(unit, acme)[name]
    return unit.deals.change_stage(
        by or acme.owner, acme.record, found.id, StageChange(stage_id=stage.id), expected_version=current.version
    )


def contact(unit: Unit, acme: UnitTenant, last: str = "Lee", by: Principal | None = None, **fields: Any) -> Contact:
    return unit.contacts.create(
        by or acme.owner, acme.record, NewContact(kind="person", first_name="Anna", last_name=last, **fields)
    )


def titles(unit: Unit, by: Principal, **query: Any) -> list[str]:
    return [d.title for d in unit.deals.list(by, DealQuery(**query), PageRequest()).items]


def set_rates(unit: Unit, acme: UnitTenant, *rates: tuple[str, str, str]) -> None:
    money = unit.currency_settings.get(acme.owner)
    request = ExchangeRates.model_validate({"rates": [{"from": a, "to": b, "rate": r} for a, b, r in rates]})
    unit.currency_settings.set_rates(acme.owner, request, expected_version=money.version)


# ---- creating ----


def test_a_new_deal_is_the_creators_public_deal_in_the_tenants_currency(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    made = deal(unit, acme, ann)
    assert (made.responsible_id, made.access_list, made.currency, made.bid_type) == (ann.user_id, [], "EUR", "fixed")
    assert made.actual_close_date is None


def test_the_default_currency_follows_the_tenants_setting(unit: Unit) -> None:
    acme = unit.tenant()
    money = unit.currency_settings.get(acme.owner)
    unit.currency_settings.set_currency(acme.owner, CurrencySetting(currency="CHF"), expected_version=money.version)
    assert deal(unit, acme).currency == "CHF"


def test_a_deal_may_start_in_a_named_stage_taking_its_probability(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme, stage_id=stages(unit, acme)["Proposal"].id)
    assert (made.probability, made.stage_status) == (75, "open")


def test_a_deal_created_as_won_is_closed_today(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    made = deal(unit, acme, stage_id=stages(unit, acme)["Closed won"].id)
    assert (made.stage_status, made.actual_close_date) == ("won", clock.now.date())


def test_an_unknown_stage_is_refused_naming_stage_id(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed) as err:
        deal(unit, acme, stage_id="nope")
    assert err.value.errors[0].field == "stage_id"


def test_the_first_open_stage_follows_the_stage_order(unit: Unit) -> None:
    acme = unit.tenant()
    ids = [s.id for s in unit.settings_lists.list(acme.owner, "deal-stages")]
    unit.settings_lists.reorder(acme.owner, "deal-stages", [ids[3], *ids[:3], *ids[4:]])
    assert deal(unit, acme).stage_id == stages(unit, acme)["Need assessment"].id


def test_a_title_is_one_trimmed_line() -> None:
    assert NewDeal(title="  New\n website  ").title == "New website"
    with pytest.raises(ValidationError):
        NewDeal(title="   ")


def test_a_deal_title_cannot_be_cleared() -> None:
    with pytest.raises(ValidationError, match="may not be null"):
        DealChanges(title=None)


@pytest.mark.parametrize("amount", ["-1.00", "1,50", "1e3", "12.34567", "abc", ""])
def test_an_amount_is_a_non_negative_decimal_string(amount: str) -> None:
    with pytest.raises(ValidationError):
        NewDeal(title="x", amount=amount)


def test_an_amount_has_at_most_the_currencys_decimals(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed) as err:
        deal(unit, acme, amount="100.5", currency="JPY")
    assert err.value.errors[0].field == "amount"
    assert deal(unit, acme, amount="100.500", currency="KWD").amount == "100.500"


def test_an_unknown_currency_is_refused() -> None:
    with pytest.raises(ValidationError):
        NewDeal(title="x", currency="XYZ")


def test_a_currency_is_taken_in_any_case() -> None:
    assert NewDeal(title="x", currency=" usd ").currency == "USD"


def test_a_bid_per_period_needs_periods(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed) as err:
        deal(unit, acme, amount="80.00", bid_type="hour")
    assert err.value.errors[0].field == "periods"


def test_a_fixed_bid_has_no_periods(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed):
        deal(unit, acme, amount="80.00", periods=3)


def test_the_value_of_a_bid_per_period_is_amount_times_periods(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme, amount="80.50", bid_type="day", periods=3)
    assert made.value == Decimal("241.50")
    assert made.weighted == Decimal("241.50") * 1 / 100


def test_switching_to_a_fixed_bid_clears_the_periods(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme, amount="80.00", bid_type="month", periods=12)
    fixed = change(unit, acme.owner, made, bid_type="fixed")
    assert (fixed.periods, fixed.value) == (None, Decimal("80.00"))


def test_a_deal_without_amount_has_no_value() -> None:
    assert deal_value(None, "EUR", BidType.FIXED, None) is None


def test_a_value_is_rounded_to_the_currencys_minor_unit() -> None:
    assert deal_value("0.333", "KWD", BidType.HOUR, 3) == Decimal("0.999")
    assert deal_value("10", "JPY", BidType.FIXED, None) == Decimal("10")


def test_the_main_contact_must_be_visible(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    secret = contact(unit, acme, by=ann)
    with pytest.raises(ValidationFailed) as err:
        deal(unit, acme, bob, contact_id=secret.id)
    assert err.value.errors[0].field == "contact_id"


def test_members_must_exist(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(ValidationFailed) as err:
        deal(unit, acme, member_ids=["ghost"])
    assert err.value.errors[0].field == "member_ids"


def test_repeated_members_are_kept_once(unit: Unit) -> None:
    acme = unit.tenant()
    bo = contact(unit, acme, "Ek")
    assert deal(unit, acme, member_ids=[bo.id, bo.id]).member_ids == [bo.id]


def test_contact_ids_hold_main_contact_and_members_once(unit: Unit) -> None:
    acme = unit.tenant()
    anna, bo = contact(unit, acme), contact(unit, acme, "Ek")
    made = deal(unit, acme, contact_id=anna.id, member_ids=[bo.id, anna.id])
    assert made.contact_ids == [anna.id, bo.id]


def test_the_responsible_user_must_be_active(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    user = acme.user(ann)
    unit.memory.identity.update_user(
        user, user.model_copy(update={"status": UserStatus.DEACTIVATED}), expected_version=user.version
    )
    with pytest.raises(ValidationFailed):
        deal(unit, acme, responsible_id=ann.user_id)


def test_at_most_twenty_listed_users() -> None:
    with pytest.raises(ValidationError):
        NewDeal(title="x", access_list=[f"u{n}" for n in range(21)])


def test_tags_keep_the_spelling_of_existing_ones(unit: Unit) -> None:
    acme = unit.tenant()
    deal(unit, acme, tags=["Q3 Push"])
    assert deal(unit, acme, title="Other", tags=["q3 push", "New"]).tags == ["Q3 Push", "New"]


# ---- stages, probability, won and lost (DEA-3, DEA-4) ----


def test_a_stage_change_copies_the_stages_probability(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme)
    assert to_stage(unit, acme, made, "Negotiations").probability == 90


def test_a_probability_set_by_hand_holds_until_the_next_stage_change(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme)
    assert change(unit, acme.owner, made, probability=40).probability == 40
    assert to_stage(unit, acme, made, "Proposal").probability == 75


def test_a_probability_is_between_0_and_100() -> None:
    with pytest.raises(ValidationError):
        DealChanges(probability=101)


def test_a_lost_deal_is_closed_with_probability_0(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant()
    lost = to_stage(unit, acme, deal(unit, acme), "Closed lost")
    assert (lost.stage_status, lost.probability, lost.actual_close_date) == ("lost", 0, clock.now.date())


def test_reopening_a_won_deal_clears_its_close_date(unit: Unit) -> None:
    acme = unit.tenant()
    won = to_stage(unit, acme, deal(unit, acme), "Closed won")
    reopened = to_stage(unit, acme, won, "Proposal")
    assert (reopened.stage_status, reopened.actual_close_date) == ("open", None)


def test_every_stage_change_is_in_the_deals_history(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme)
    to_stage(unit, acme, made, "Proposal")
    to_stage(unit, acme, made, "Closed won")
    texts = [e.text for e in unit.history.list(acme.owner, "deal", made.id, HistoryFilter(), PageRequest()).items]
    assert sorted(texts) == ["Stage: Initial contact -> Proposal", "Stage: Proposal -> Closed won"]


def test_a_stage_change_names_the_version(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme)
    change(unit, acme.owner, made, title="Website relaunch")
    with pytest.raises(PreconditionFailed):
        unit.deals.change_stage(
            acme.owner,
            acme.record,
            made.id,
            StageChange(stage_id=stages(unit, acme)["Proposal"].id),
            expected_version=1,
        )


def test_a_stage_change_needs_write_access(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    secret = deal(unit, acme, ann, access_list=[ann.user_id])
    with pytest.raises(NotFound):
        to_stage(unit, acme, secret, "Proposal", by=bob)


def test_a_stage_of_another_tenant_is_refused(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    made = deal(unit, acme)
    theirs = stages(unit, globex)["Proposal"]
    with pytest.raises(ValidationFailed):
        unit.deals.change_stage(acme.owner, acme.record, made.id, StageChange(stage_id=theirs.id), expected_version=1)


def test_a_stage_in_use_cannot_be_deleted(unit: Unit) -> None:
    acme = unit.tenant()
    deal(unit, acme, stage_id=stages(unit, acme)["Proposal"].id)
    with pytest.raises(Conflict, match="used by 1 record"):
        unit.settings_lists.delete(acme.owner, "deal-stages", stages(unit, acme)["Proposal"].id)


def test_the_stage_status_filter_follows_the_stages_current_status(unit: Unit) -> None:
    acme = unit.tenant()
    deal(unit, acme, title="in negotiation", stage_id=stages(unit, acme)["Negotiations"].id)
    deal(unit, acme, title="new")
    assert titles(unit, acme.owner, stage_status="won") == []
    negotiations = stages(unit, acme)["Negotiations"]
    unit.settings_lists.update(
        acme.owner,
        "deal-stages",
        negotiations.id,
        DealStageChanges(status="won"),
        expected_version=negotiations.version,
    )
    assert titles(unit, acme.owner, stage_status="won") == ["in negotiation"]


def test_a_new_won_stage_can_be_used(unit: Unit) -> None:
    acme = unit.tenant()
    signed = unit.settings_lists.create(
        acme.owner, "deal-stages", NewDealStage(name="Signed", probability=100, status="won")
    )
    made = deal(unit, acme)
    closed = unit.deals.change_stage(
        acme.owner, acme.record, made.id, StageChange(stage_id=signed.id), expected_version=1
    )
    assert closed.stage_status == "won"


# ---- changing and deleting ----


def test_a_patch_changes_only_the_fields_sent(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme, amount="100.00", description="First call")
    changed = change(unit, acme.owner, made, amount="150.00")
    assert (changed.amount, changed.description, changed.version) == ("150.00", "First call", 2)


def test_a_patch_with_a_stale_version_is_refused(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme)
    change(unit, acme.owner, made, description="x")
    with pytest.raises(PreconditionFailed):
        unit.deals.update(acme.owner, made.id, DealChanges(description="y"), expected_version=1)


def test_any_user_may_change_a_public_deal_but_only_the_creator_makes_it_private(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = deal(unit, acme, ann)
    assert change(unit, bob, made, description="by bob").description == "by bob"
    with pytest.raises(Forbidden):
        change(unit, bob, made, access_list=[bob.user_id])


def test_a_user_taken_off_the_list_loses_the_deal(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = deal(unit, acme, ann, access_list=[bob.user_id])
    change(unit, ann, made, access_list=[ann.user_id])
    with pytest.raises(NotFound):
        unit.deals.get(bob, made.id)


def test_the_responsible_user_of_a_private_deal_gets_no_access_from_it(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = deal(unit, acme, ann, access_list=[ann.user_id], responsible_id=bob.user_id)
    assert made.responsible_id == bob.user_id
    with pytest.raises(NotFound):
        unit.deals.get(bob, made.id)


def test_a_listed_user_who_was_deactivated_may_stay_on_the_list(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = deal(unit, acme, ann, access_list=[bob.user_id])
    user = acme.user(bob)
    unit.memory.identity.update_user(
        user, user.model_copy(update={"status": UserStatus.DEACTIVATED}), expected_version=user.version
    )
    assert change(unit, ann, made, description="still listed").access_list == [ann.user_id, bob.user_id]


def test_a_deleted_deal_is_gone_for_everyone(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme)
    unit.deals.delete(acme.owner, made.id, expected_version=1)
    with pytest.raises(NotFound):
        unit.deals.get(acme.owner, made.id)
    assert titles(unit, acme.owner) == []


def test_a_listed_user_may_delete_a_private_deal(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = deal(unit, acme, ann, access_list=[bob.user_id])
    unit.deals.delete(bob, made.id, expected_version=1)
    with pytest.raises(NotFound):
        unit.deals.get(ann, made.id)


def test_a_deal_of_another_tenant_does_not_exist(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    made = deal(unit, acme)
    with pytest.raises(NotFound):
        unit.deals.get(globex.owner, made.id)


def test_a_merge_moves_deals_to_the_surviving_contact(unit: Unit) -> None:
    acme = unit.tenant()
    into, dup = contact(unit, acme), contact(unit, acme)
    made = deal(unit, acme, contact_id=dup.id)
    unit.contact_merge.merge(acme.owner, acme.record, MergeRequest(from_id=dup.id, into_id=into.id))
    assert unit.deals.get(acme.owner, made.id).contact_id == into.id
    assert titles(unit, acme.owner, contact_id=into.id) == ["Website"]


def test_a_merge_does_not_list_the_survivor_twice(unit: Unit) -> None:
    acme = unit.tenant()
    into, dup = contact(unit, acme), contact(unit, acme)
    made = deal(unit, acme, contact_id=into.id, member_ids=[dup.id])
    assert unit.deals.move_contact(acme.id, dup.id, into.id) == 1
    after = unit.deals.get(acme.owner, made.id)
    assert (after.contact_id, after.member_ids) == (into.id, [])


# ---- listing (DEA-8) ----


def test_deals_filter_by_responsible_user(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    deal(unit, acme, title="ann's", responsible_id=ann.user_id)
    deal(unit, acme, title="owner's")
    assert titles(unit, acme.owner, responsible_id=ann.user_id) == ["ann's"]


def test_deals_filter_by_stage(unit: Unit) -> None:
    acme = unit.tenant()
    deal(unit, acme, title="proposal", stage_id=stages(unit, acme)["Proposal"].id)
    deal(unit, acme, title="new")
    assert titles(unit, acme.owner, stage_id=stages(unit, acme)["Proposal"].id) == ["proposal"]


def test_deals_filter_by_tag_ignoring_case(unit: Unit) -> None:
    acme = unit.tenant()
    deal(unit, acme, title="tagged", tags=["Upsell"])
    deal(unit, acme, title="plain")
    assert titles(unit, acme.owner, tag="UPSELL") == ["tagged"]


def test_deals_filter_by_member_contact(unit: Unit) -> None:
    acme = unit.tenant()
    bo = contact(unit, acme, "Ek")
    deal(unit, acme, title="with bo", member_ids=[bo.id])
    deal(unit, acme, title="without")
    assert titles(unit, acme.owner, contact_id=bo.id) == ["with bo"]


def test_filters_combine(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    deal(unit, acme, title="both", tags=["Upsell"], responsible_id=ann.user_id)
    deal(unit, acme, title="tag only", tags=["Upsell"])
    assert titles(unit, acme.owner, tag="upsell", responsible_id=ann.user_id) == ["both"]


def test_the_lost_filter_lists_no_open_deal(unit: Unit) -> None:
    acme = unit.tenant()
    deal(unit, acme)
    assert titles(unit, acme.owner, stage_status="lost") == []


def test_the_list_hides_private_deals_from_unlisted_users(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    deal(unit, acme, ann, "private", access_list=[ann.user_id])
    deal(unit, acme, ann, "public")
    assert titles(unit, bob) == ["public"]
    assert sorted(titles(unit, ann)) == ["private", "public"]


def test_the_deal_list_pages(unit: Unit) -> None:
    acme = unit.tenant()
    for n in range(5):
        deal(unit, acme, title=f"d{n}")
    first = unit.deals.list(acme.owner, DealQuery(), PageRequest(limit=3))
    assert len(first.items) == 3 and first.after is not None
    rest = unit.deals.list(acme.owner, DealQuery(), PageRequest(limit=3, after=first.after))
    assert sorted(d.title for d in first.items + rest.items) == [f"d{n}" for n in range(5)]
    assert rest.after is None


# ---- projects (DEA-7) ----


def test_a_project_started_from_a_deal_is_listed_with_it(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    made = deal(unit, acme)
    project = unit.deals.start_project(acme.owner, made.id, NewProject(title="Build", member_ids=[ann.user_id]))
    assert (project.deal_id, project.member_ids) == (made.id, [ann.user_id])
    assert [p.title for p in unit.deals.projects(acme.owner, made.id, PageRequest()).items] == ["Build"]


def test_project_members_are_active_users(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme)
    with pytest.raises(ValidationFailed):
        unit.deals.start_project(acme.owner, made.id, NewProject(title="Build", member_ids=["ghost"]))


def test_a_project_needs_write_access_to_the_deal(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = deal(unit, acme, ann, access_list=[ann.user_id])
    with pytest.raises(NotFound):
        unit.deals.start_project(bob, made.id, NewProject(title="Build"))


def test_projects_outlive_their_deal(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme)
    project = unit.deals.start_project(acme.owner, made.id, NewProject(title="Build"))
    unit.deals.delete(acme.owner, made.id, expected_version=1)
    unit.run_jobs()
    kept = Project.model_validate_json(unit.memory.db.table(acme.id, "projects")[project.id])
    assert (kept.title, kept.deal_id) == ("Build", None)
    assert unit.deals.forget_projects(acme.id, made.id) == 0  # the cascade ran already


# ---- the pipeline ----


def pipeline_row(unit: Unit, acme: UnitTenant, by: Principal, name: str) -> tuple[int, str, str]:
    stage = stages(unit, acme)[name]
    row = next(s for s in unit.deal_pipeline.get(by).stages if s.stage_id == stage.id)
    return row.count, row.sum, row.weighted_sum


def test_the_pipeline_lists_every_stage_in_order_even_empty_ones(unit: Unit) -> None:
    acme = unit.tenant()
    pipeline = unit.deal_pipeline.get(acme.owner)
    assert [s.name for s in pipeline.stages] == list(stages(unit, acme))
    assert (pipeline.count, pipeline.sum, pipeline.weighted_sum) == (0, "0.00", "0.00")


def test_a_stage_change_moves_a_deal_between_pipeline_rows(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme, amount="200.00")
    assert pipeline_row(unit, acme, acme.owner, "Initial contact") == (1, "200.00", "2.00")
    to_stage(unit, acme, made, "Proposal")
    assert pipeline_row(unit, acme, acme.owner, "Initial contact") == (0, "0.00", "0.00")
    assert pipeline_row(unit, acme, acme.owner, "Proposal") == (1, "200.00", "150.00")


def test_a_deleted_deal_leaves_the_pipeline(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme, amount="200.00")
    unit.deals.delete(acme.owner, made.id, expected_version=1)
    assert unit.deal_pipeline.get(acme.owner).count == 0


def test_a_changed_amount_changes_the_pipeline(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme, amount="200.00")
    change(unit, acme.owner, made, amount="50.00")
    assert pipeline_row(unit, acme, acme.owner, "Initial contact") == (1, "50.00", "0.50")


def test_a_deal_without_amount_counts_but_adds_nothing(unit: Unit) -> None:
    acme = unit.tenant()
    deal(unit, acme)
    assert pipeline_row(unit, acme, acme.owner, "Initial contact") == (1, "0.00", "0.00")


def test_the_pipeline_converts_with_the_inverse_rate(unit: Unit) -> None:
    acme = unit.tenant()
    deal(unit, acme, amount="100.00", currency="USD")
    set_rates(unit, acme, ("EUR", "USD", "2"))
    assert pipeline_row(unit, acme, acme.owner, "Initial contact") == (1, "50.00", "0.50")


def test_missing_rates_name_every_pair(unit: Unit) -> None:
    acme = unit.tenant()
    deal(unit, acme, amount="1.00", currency="USD")
    deal(unit, acme, amount="1.00", currency="GBP")
    from chalicelib.domain.settings.currency import MissingRates

    with pytest.raises(MissingRates) as err:
        unit.deal_pipeline.get(acme.owner)
    assert err.value.pairs == [("GBP", "EUR"), ("USD", "EUR")]


def test_the_pipeline_sums_in_a_zero_decimal_default_currency(unit: Unit) -> None:
    acme = unit.tenant()
    money = unit.currency_settings.get(acme.owner)
    unit.currency_settings.set_currency(acme.owner, CurrencySetting(currency="JPY"), expected_version=money.version)
    deal(unit, acme, amount="1000", stage_id=stages(unit, acme)["Proposal"].id)
    assert pipeline_row(unit, acme, acme.owner, "Proposal") == (1, "1000", "750")


def test_a_listed_user_sees_a_private_deal_in_the_pipeline_others_do_not(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob, eve = acme.add_user("ann"), acme.add_user("bob"), acme.add_user("eve")
    deal(unit, acme, ann, amount="10.00", access_list=[bob.user_id])
    assert pipeline_row(unit, acme, bob, "Initial contact")[0] == 1
    assert pipeline_row(unit, acme, eve, "Initial contact")[0] == 0


def test_a_deal_made_private_moves_out_of_others_pipeline(unit: Unit) -> None:
    acme = unit.tenant()
    ann, eve = acme.add_user("ann"), acme.add_user("eve")
    made = deal(unit, acme, ann, amount="10.00")
    assert pipeline_row(unit, acme, eve, "Initial contact")[0] == 1
    change(unit, ann, made, access_list=[ann.user_id])
    assert pipeline_row(unit, acme, eve, "Initial contact")[0] == 0
    assert pipeline_row(unit, acme, acme.owner, "Initial contact")[0] == 1


def test_the_pipeline_of_one_tenant_holds_none_of_anothers_deals(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    deal(unit, acme, amount="10.00")
    assert unit.deal_pipeline.get(globex.owner).count == 0


def test_the_expected_close_date_filter_excludes_deals_without_one(unit: Unit) -> None:
    acme = unit.tenant()
    deal(unit, acme, title="dated", expected_close_date=date(2026, 6, 1))
    deal(unit, acme, title="undated")
    assert titles(unit, acme.owner, close_from=date(2026, 1, 1)) == ["dated"]


def test_the_close_date_is_today_in_the_tenants_zone(unit: Unit, clock: FixedClock) -> None:
    acme = unit.tenant(time_zone="America/Los_Angeles")
    clock.now = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)  # still 2 March in Los Angeles
    won = to_stage(unit, acme, deal(unit, acme), "Closed won")
    assert won.actual_close_date == date(2026, 3, 2)


def test_changing_to_a_currency_with_fewer_decimals_than_the_amount_is_refused(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme, amount="100.50")
    with pytest.raises(ValidationFailed) as err:
        change(unit, acme.owner, made, currency="JPY")
    assert err.value.errors[0].field == "amount"
    assert unit.deals.get(acme.owner, made.id).currency == "EUR"


def test_clearing_the_amount_clears_the_value(unit: Unit) -> None:
    acme = unit.tenant()
    made = deal(unit, acme, amount="10.00")
    assert change(unit, acme.owner, made, amount=None).value is None


def test_the_pipeline_counts_a_deal_once_through_every_access_change(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    made = deal(unit, acme, ann, amount="10.00", access_list=[bob.user_id])

    def counts() -> tuple[int, int, int]:
        return tuple(unit.deal_pipeline.get(who).count for who in (bob, ann, acme.owner))  # type: ignore[return-value]

    assert counts() == (1, 1, 1)
    change(unit, ann, made, access_list=[])  # public: bob sees it once, not as listed and public
    assert counts() == (1, 1, 1)
    change(unit, ann, made, access_list=[bob.user_id])
    assert counts() == (1, 1, 1)
    change(unit, ann, made, access_list=[ann.user_id])  # bob taken off
    assert counts() == (0, 1, 1)
    unit.deals.delete(ann, made.id, expected_version=4)
    assert counts() == (0, 0, 0)


def test_tag_counts_of_deals_are_of_the_deals_the_caller_may_see(unit: Unit) -> None:
    acme = unit.tenant()
    ann, bob = acme.add_user("ann"), acme.add_user("bob")
    deal(unit, acme, ann, title="private", tags=["Q3"], access_list=[ann.user_id])
    deal(unit, acme, ann, title="public", tags=["Q3"])
    count = {t.name: t.count for t in unit.tags.list(bob, "deal", PageRequest()).items}
    assert count == {"Q3": 1}
    assert {t.name: t.count for t in unit.tags.list(ann, "deal", PageRequest()).items} == {"Q3": 2}
