"""Settings (SET-1..10): the lists (names, order, in-use and last-entry
rules, won/lost stages, task-category replacement), currency and exchange
rates, and custom fields with the validation of their values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.contacts.models import ContactChanges, NewContact
from chalicelib.domain.deals.models import NewDeal
from chalicelib.domain.settings.currency import (
    CurrencySetting,
    ExchangeRate,
    ExchangeRates,
    MissingRates,
    convert,
    convert_all,
    currencies,
    minor_units,
    parse_rate,
    rate_for,
    round_money,
)
from chalicelib.domain.settings.custom_fields import (
    CustomField,
    CustomFieldChanges,
    NewCustomField,
    kinds_for,
    validate_values,
)
from chalicelib.domain.settings.lists import (
    ContactTypeChanges,
    DealStageChanges,
    NewContactType,
    NewDealStage,
    NewTaskCategory,
    NewTemperature,
)
from chalicelib.domain.shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from chalicelib.domain.tasks.models import NewTask
from tests.unit.conftest import START, Unit, UnitTenant


def names(unit: Unit, acme: UnitTenant, list_name: str) -> list[str]:
    return [e.name for e in unit.settings_lists.list(acme.owner, list_name)]


def entry_id(unit: Unit, acme: UnitTenant, list_name: str, name: str) -> str:
    return next(e.id for e in unit.settings_lists.list(acme.owner, list_name) if e.name == name)


def field(
    unit: Unit, acme: UnitTenant, label: str = "Size", type: str = "text", entity: str = "contact", **kw: Any
) -> CustomField:
    return unit.custom_fields.create(acme.owner, NewCustomField(entity=entity, label=label, type=type, **kw))


# ---- lists ----


def test_a_new_tenant_has_the_reference_lists(unit: Unit) -> None:
    acme = unit.tenant()
    assert names(unit, acme, "contact-types") == ["Client", "Supplier", "Partner", "Competitor"]
    assert names(unit, acme, "temperatures") == ["Cold", "Warm", "Hot"]
    assert names(unit, acme, "history-categories") == ["Note", "E-mail", "Phone call", "Appointment"]
    assert len(names(unit, acme, "task-categories")) == 12
    assert names(unit, acme, "deal-stages")[-2:] == ["Closed won", "Closed lost"]


def test_an_unknown_list_does_not_exist(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(NotFound):
        unit.settings_lists.list(acme.owner, "colours")


def test_every_user_reads_the_lists_but_only_admins_change_them(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    assert unit.settings_lists.list(ann, "contact-types")
    with pytest.raises(Forbidden):
        unit.settings_lists.create(ann, "contact-types", NewContactType(name="Reseller"))


def test_an_admin_adds_an_entry_at_the_end(unit: Unit) -> None:
    acme = unit.tenant()
    boss = acme.admin()
    made = unit.settings_lists.create(boss, "contact-types", NewContactType(name="  Reseller "))
    assert made.name == "Reseller" and made.order == 5
    assert names(unit, acme, "contact-types")[-1] == "Reseller"


def test_names_are_unique_in_a_list_ignoring_case(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(Conflict, match="exists already"):
        unit.settings_lists.create(acme.owner, "contact-types", NewContactType(name="CLIENT"))


def test_the_same_name_may_be_in_two_lists(unit: Unit) -> None:
    acme = unit.tenant()
    assert unit.settings_lists.create(acme.owner, "history-categories", NewContactType(name="Client")).name == "Client"


def test_the_same_name_may_be_in_two_tenants(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    unit.settings_lists.create(acme.owner, "contact-types", NewContactType(name="Reseller"))
    assert unit.settings_lists.create(globex.owner, "contact-types", NewContactType(name="Reseller")).name == "Reseller"


def test_renaming_to_its_own_name_in_other_case_is_allowed(unit: Unit) -> None:
    acme = unit.tenant()
    client = unit.settings_lists.get(acme.owner, "contact-types", entry_id(unit, acme, "contact-types", "Client"))
    renamed = unit.settings_lists.update(
        acme.owner, "contact-types", client.id, ContactTypeChanges(name="CLIENT"), expected_version=client.version
    )
    assert (renamed.name, renamed.version) == ("CLIENT", client.version + 1)


def test_renaming_to_another_entrys_name_is_refused(unit: Unit) -> None:
    acme = unit.tenant()
    client = unit.settings_lists.get(acme.owner, "contact-types", entry_id(unit, acme, "contact-types", "Client"))
    with pytest.raises(Conflict):
        unit.settings_lists.update(
            acme.owner, "contact-types", client.id, ContactTypeChanges(name="partner"), expected_version=client.version
        )


def test_an_entry_change_names_its_version(unit: Unit) -> None:
    acme = unit.tenant()
    client = unit.settings_lists.get(acme.owner, "contact-types", entry_id(unit, acme, "contact-types", "Client"))
    with pytest.raises(PreconditionFailed):
        unit.settings_lists.update(
            acme.owner,
            "contact-types",
            client.id,
            ContactTypeChanges(name="Customer"),
            expected_version=client.version + 1,
        )


def test_a_temperature_color_is_hex() -> None:
    with pytest.raises(ValidationError):
        NewTemperature(name="Lukewarm", color="orange")
    assert NewTemperature(name="Lukewarm", color="#AbCdEf").color == "#AbCdEf"


def test_a_task_category_icon_is_a_simple_name() -> None:
    with pytest.raises(ValidationError):
        NewTaskCategory(name="Video", icon="Video Call!")


def test_a_stage_probability_is_a_percentage() -> None:
    with pytest.raises(ValidationError):
        NewDealStage(name="Over", probability=120)


def test_unused_entries_can_be_deleted(unit: Unit) -> None:
    acme = unit.tenant()
    unit.settings_lists.delete(acme.owner, "contact-types", entry_id(unit, acme, "contact-types", "Competitor"))
    assert names(unit, acme, "contact-types") == ["Client", "Supplier", "Partner"]


def test_a_deleted_entry_is_not_found_again(unit: Unit) -> None:
    acme = unit.tenant()
    competitor = entry_id(unit, acme, "contact-types", "Competitor")
    unit.settings_lists.delete(acme.owner, "contact-types", competitor)
    with pytest.raises(NotFound):
        unit.settings_lists.delete(acme.owner, "contact-types", competitor)
    with pytest.raises(NotFound):
        unit.settings_lists.get(acme.owner, "contact-types", competitor)


def test_the_last_entry_of_a_list_cannot_be_deleted(unit: Unit) -> None:
    acme = unit.tenant()
    for name in ("Client", "Supplier", "Partner"):
        unit.settings_lists.delete(acme.owner, "contact-types", entry_id(unit, acme, "contact-types", name))
    with pytest.raises(Conflict, match="last"):
        unit.settings_lists.delete(acme.owner, "contact-types", entry_id(unit, acme, "contact-types", "Competitor"))


def test_an_entry_used_by_a_deleted_record_is_free_again(unit: Unit) -> None:
    acme = unit.tenant()
    warm = entry_id(unit, acme, "temperatures", "Warm")
    anna = unit.contacts.create(
        acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name="B", temperature_id=warm)
    )
    with pytest.raises(Conflict):
        unit.settings_lists.delete(acme.owner, "temperatures", warm)
    unit.contacts.delete(acme.owner, anna.id, expected_version=1)
    unit.settings_lists.delete(acme.owner, "temperatures", warm)


def test_changing_a_records_entry_moves_the_use(unit: Unit) -> None:
    acme = unit.tenant()
    warm, hot = entry_id(unit, acme, "temperatures", "Warm"), entry_id(unit, acme, "temperatures", "Hot")
    anna = unit.contacts.create(
        acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name="B", temperature_id=warm)
    )
    unit.contacts.update(acme.owner, acme.record, anna.id, ContactChanges(temperature_id=hot), expected_version=1)
    unit.settings_lists.delete(acme.owner, "temperatures", warm)
    with pytest.raises(Conflict, match="used by 1 record"):
        unit.settings_lists.delete(acme.owner, "temperatures", hot)


def test_the_last_won_stage_cannot_be_deleted(unit: Unit) -> None:
    acme = unit.tenant()
    with pytest.raises(Conflict, match="won"):
        unit.settings_lists.delete(acme.owner, "deal-stages", entry_id(unit, acme, "deal-stages", "Closed won"))


def test_the_last_lost_stage_cannot_become_open(unit: Unit) -> None:
    acme = unit.tenant()
    lost = unit.settings_lists.get(acme.owner, "deal-stages", entry_id(unit, acme, "deal-stages", "Closed lost"))
    with pytest.raises(Conflict, match="lost"):
        unit.settings_lists.update(
            acme.owner, "deal-stages", lost.id, DealStageChanges(status="open"), expected_version=lost.version
        )


def test_a_second_won_stage_lets_the_first_go(unit: Unit) -> None:
    acme = unit.tenant()
    unit.settings_lists.create(acme.owner, "deal-stages", NewDealStage(name="Signed", probability=100, status="won"))
    unit.settings_lists.delete(acme.owner, "deal-stages", entry_id(unit, acme, "deal-stages", "Closed won"))
    assert "Closed won" not in names(unit, acme, "deal-stages")


def test_a_reorder_names_every_entry_once(unit: Unit) -> None:
    acme = unit.tenant()
    ids = [e.id for e in unit.settings_lists.list(acme.owner, "temperatures")]
    with pytest.raises(ValidationFailed) as err:
        unit.settings_lists.reorder(acme.owner, "temperatures", [ids[0], ids[0], "nope"])
    messages = [e.message for e in err.value.errors]
    assert any("more than once" in m for m in messages)
    assert any("not an entry" in m for m in messages)
    assert sum("missing" in m for m in messages) == 2


def test_a_reorder_changes_the_list_order(unit: Unit) -> None:
    acme = unit.tenant()
    ids = [e.id for e in unit.settings_lists.list(acme.owner, "temperatures")]
    result = unit.settings_lists.reorder(acme.owner, "temperatures", list(reversed(ids)))
    assert [e.name for e in result] == ["Hot", "Warm", "Cold"]
    assert names(unit, acme, "temperatures") == ["Hot", "Warm", "Cold"]
    assert [e.order for e in result] == [1, 2, 3]


def test_a_list_holds_at_most_ninety_entries(unit: Unit) -> None:
    acme = unit.tenant()
    for n in range(86):
        unit.settings_lists.create(acme.owner, "contact-types", NewContactType(name=f"Type {n}"))
    with pytest.raises(Conflict, match="at most 90"):
        unit.settings_lists.create(acme.owner, "contact-types", NewContactType(name="One too many"))


def test_only_task_categories_take_a_replacement(unit: Unit) -> None:
    acme = unit.tenant()
    client, partner = (entry_id(unit, acme, "contact-types", n) for n in ("Client", "Partner"))
    with pytest.raises(ValidationFailed) as err:
        unit.settings_lists.delete(acme.owner, "contact-types", client, replacement=partner)
    assert err.value.errors[0].field == "query.replace_with"


def test_a_category_cannot_replace_itself(unit: Unit) -> None:
    acme = unit.tenant()
    demo = entry_id(unit, acme, "task-categories", "Demo")
    with pytest.raises(ValidationFailed, match="another entry"):
        unit.settings_lists.delete(acme.owner, "task-categories", demo, replacement=demo)


def test_a_replacement_must_be_a_category_of_the_tenant(unit: Unit) -> None:
    acme = unit.tenant()
    demo = entry_id(unit, acme, "task-categories", "Demo")
    with pytest.raises(ValidationFailed):
        unit.settings_lists.delete(acme.owner, "task-categories", demo, replacement="nope")


def test_a_retired_category_resolves_to_its_replacement(unit: Unit) -> None:
    acme = unit.tenant()
    demo, lunch = entry_id(unit, acme, "task-categories", "Demo"), entry_id(unit, acme, "task-categories", "Lunch")
    unit.tasks.create(acme.owner, NewTask(title="Show it", due_at=START, category_id=demo))
    unit.settings_lists.delete(acme.owner, "task-categories", demo, replacement=lunch)
    assert "Demo" not in names(unit, acme, "task-categories")
    resolved = unit.settings_lists.resolve(acme.owner, "task-categories", demo)
    assert resolved is not None and resolved.id == lunch


def test_an_unused_category_deleted_with_a_replacement_is_simply_deleted(unit: Unit) -> None:
    acme = unit.tenant()
    demo, lunch = entry_id(unit, acme, "task-categories", "Demo"), entry_id(unit, acme, "task-categories", "Lunch")
    unit.settings_lists.delete(acme.owner, "task-categories", demo, replacement=lunch)
    assert unit.settings_lists.resolve(acme.owner, "task-categories", demo) is None
    assert unit.queued("event") == []


def test_seeding_twice_keeps_one_set_of_defaults(unit: Unit) -> None:
    acme = unit.tenant()
    unit.settings_lists.seed(acme.owner)
    assert names(unit, acme, "temperatures") == ["Cold", "Warm", "Hot"]


def test_a_list_missing_for_an_old_tenant_is_seeded_on_first_read(unit: Unit) -> None:
    acme = unit.tenant()
    for table in ("lists", "list_entries", "list_names"):  # a tenant from before the lists existed
        unit.memory.db.table(acme.id, table).clear()
    assert unit.memory.db.table(acme.id, "list_entries") == {}
    assert names(unit, acme, "temperatures") == ["Cold", "Warm", "Hot"]


# ---- currency and rates (SET-1, SET-2) ----


def test_the_default_currency_is_eur_and_admins_change_it(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    money = unit.currency_settings.get(ann)
    assert money.currency == "EUR"
    with pytest.raises(Forbidden):
        unit.currency_settings.set_currency(ann, CurrencySetting(currency="USD"), expected_version=money.version)
    changed = unit.currency_settings.set_currency(
        acme.owner, CurrencySetting(currency="usd"), expected_version=money.version
    )
    assert (changed.currency, changed.version) == ("USD", money.version + 1)


def test_a_currency_change_names_the_version(unit: Unit) -> None:
    acme = unit.tenant()
    money = unit.currency_settings.get(acme.owner)
    unit.currency_settings.set_currency(acme.owner, CurrencySetting(currency="USD"), expected_version=money.version)
    with pytest.raises(PreconditionFailed):
        unit.currency_settings.set_currency(acme.owner, CurrencySetting(currency="GBP"), expected_version=money.version)


def test_rates_replace_the_whole_set(unit: Unit) -> None:
    acme = unit.tenant()
    money = unit.currency_settings.get(acme.owner)
    first = ExchangeRates.model_validate({"rates": [{"from": "USD", "to": "EUR", "rate": "0.9"}]})
    after = unit.currency_settings.set_rates(acme.owner, first, expected_version=money.version)
    second = ExchangeRates.model_validate({"rates": [{"from": "GBP", "to": "EUR", "rate": "1.15"}]})
    final = unit.currency_settings.set_rates(acme.owner, second, expected_version=after.version)
    assert [r.pair for r in final.rates] == [("GBP", "EUR")]


def test_only_admins_set_rates(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    with pytest.raises(Forbidden):
        unit.currency_settings.set_rates(ann, ExchangeRates(rates=[]), expected_version=None)


def test_a_pair_appears_once_in_a_set_of_rates() -> None:
    with pytest.raises(ValidationError, match="more than once"):
        ExchangeRates.model_validate(
            {"rates": [{"from": "USD", "to": "EUR", "rate": "0.9"}, {"from": "USD", "to": "EUR", "rate": "0.8"}]}
        )


def test_a_rate_converts_between_two_different_currencies() -> None:
    with pytest.raises(ValidationError, match="different"):
        ExchangeRate.model_validate({"from": "EUR", "to": "eur", "rate": "1"})


@pytest.mark.parametrize("text", ["0", "-1", "1e3", "1,5", ".5", "5.", "0.12345678901", "1234567890123", "abc", ""])
def test_a_rate_is_a_positive_decimal_string(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


@pytest.mark.parametrize("text", ["0.92", "1", "123456789012", "0.0000000001", " 1.5 "])
def test_valid_rates(text: str) -> None:
    assert parse_rate(text) > 0


def test_conversion_uses_the_direct_rate_first() -> None:
    rates = {("USD", "EUR"): Decimal("0.9"), ("EUR", "USD"): Decimal("1.2")}
    assert convert(Decimal("10"), "USD", "EUR", rates) == Decimal("9.0")


def test_conversion_falls_back_to_the_inverse_rate() -> None:
    assert round_money(convert(Decimal("10"), "USD", "EUR", {("EUR", "USD"): Decimal("1.25")}), "EUR") == Decimal(
        "8.00"
    )


def test_the_same_currency_converts_at_one() -> None:
    assert rate_for("EUR", "EUR", {}) == Decimal(1)


def test_rates_given_as_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        rate_for("USD", "EUR", {("USD", "EUR"): 0.9})  # type: ignore[arg-type]


def test_converting_many_amounts_names_every_missing_pair() -> None:
    with pytest.raises(MissingRates) as err:
        convert_all([(Decimal(1), "USD"), (Decimal(1), "GBP"), (Decimal(1), "EUR")], "EUR", {})
    assert err.value.pairs == [("GBP", "EUR"), ("USD", "EUR")]
    assert [e.field for e in err.value.errors] == ["rates", "rates"]


@pytest.mark.parametrize(("code", "digits"), [("EUR", 2), ("JPY", 0), ("KWD", 3), ("CHF", 2)])
def test_minor_units_follow_iso_4217(code: str, digits: int) -> None:
    assert minor_units(code) == digits


def test_money_rounds_half_up() -> None:
    assert round_money(Decimal("0.125"), "EUR") == Decimal("0.13")
    assert round_money(Decimal("2.5"), "JPY") == Decimal("3")


def test_the_currency_list_holds_no_historic_or_fund_codes() -> None:
    codes = {c.code for c in currencies()}
    assert {"EUR", "USD", "JPY"} <= codes
    assert not {"DEM", "XAU", "XDR", "USN"} & codes


def test_an_unknown_currency_has_no_minor_units() -> None:
    with pytest.raises(ValueError):
        minor_units("DEM")


# ---- custom fields (SET-8) ----


def test_only_admins_define_custom_fields(unit: Unit) -> None:
    acme = unit.tenant()
    ann = acme.add_user("ann")
    with pytest.raises(Forbidden):
        unit.custom_fields.create(ann, NewCustomField(entity="contact", label="Size", type="text"))


def test_fields_are_listed_by_entity_then_order(unit: Unit) -> None:
    acme = unit.tenant()
    field(unit, acme, "Budget", entity="deal")
    field(unit, acme, "Size")
    field(unit, acme, "Industry")
    assert [f.label for f in unit.custom_fields.list(acme.owner)] == ["Size", "Industry", "Budget"]
    assert [f.label for f in unit.custom_fields.list(acme.owner, "deal")] == ["Budget"]


def test_a_select_field_needs_options() -> None:
    with pytest.raises(ValidationError, match="at least one option"):
        NewCustomField(entity="contact", label="Size", type="select")


def test_only_select_fields_have_options() -> None:
    with pytest.raises(ValidationError, match="only select"):
        NewCustomField(entity="contact", label="Size", type="text", options=["S"])


def test_options_are_unique_ignoring_case() -> None:
    with pytest.raises(ValidationError, match="unique"):
        NewCustomField(entity="contact", label="Size", type="select", options=["S", "s"])


def test_an_entity_has_at_most_thirty_fields(unit: Unit) -> None:
    acme = unit.tenant()
    for n in range(30):
        field(unit, acme, f"F{n}", entity="case")
    with pytest.raises(Conflict, match="at most 30"):
        field(unit, acme, "One more", entity="case")
    assert field(unit, acme, "Other entity", entity="deal").label == "Other entity"


def test_person_fields_apply_to_persons_and_contact_fields_to_both() -> None:
    assert kinds_for("person") == ("contact", "person")
    assert kinds_for("company") == ("contact", "company")
    with pytest.raises(ValueError):
        kinds_for("invoice")


def definition(type: str, options: list[str] | None = None, entity: str = "contact", id: str = "f1") -> CustomField:
    return CustomField(
        id=id, entity=entity, label="x", type=type, options=options or [], order=1, created_at=START, updated_at=START
    )


@pytest.mark.parametrize(
    ("type", "options", "value", "stored"),
    [
        ("text", None, "Large", "Large"),
        ("text", None, "   ", None),
        ("textarea", None, "x" * 10000, "x" * 10000),
        ("select", ["S", "M"], "M", "M"),
        ("checkbox", None, False, False),
        ("date", None, " 2026-03-02 ", "2026-03-02"),
    ],
)
def test_valid_custom_values_are_normalised(type: str, options: list[str] | None, value: Any, stored: Any) -> None:
    assert validate_values([definition(type, options)], ["contact"], {"f1": value}) == {"f1": stored}


@pytest.mark.parametrize(
    ("type", "options", "value", "message"),
    [
        ("text", None, 5, "must be a string"),
        ("text", None, "x" * 1001, "at most 1000"),
        ("textarea", None, "x" * 10001, "at most 10000"),
        ("select", ["S", "M"], "XL", "must be one of: S, M"),
        ("select", ["S", "M"], "s", "must be one of"),
        ("checkbox", None, "yes", "true or false"),
        ("checkbox", None, 1, "true or false"),
        ("date", None, "02.03.2026", "YYYY-MM-DD"),
        ("date", None, 20260302, "YYYY-MM-DD"),
        ("heading", None, "x", "takes no value"),
    ],
)
def test_invalid_custom_values_are_refused_naming_the_field(
    type: str, options: list[str] | None, value: Any, message: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_values([definition(type, options)], ["contact"], {"f1": value})
    assert [e.field for e in err.value.errors] == ["custom_fields.f1"]
    assert message in err.value.errors[0].message


def test_null_removes_a_value() -> None:
    assert validate_values([definition("text")], ["contact"], {"f1": None}) == {"f1": None}


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="invalid"):
        validate_values([definition("text")], ["contact"], {"nope": "x"})


def test_a_field_of_another_entity_does_not_apply() -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_values([definition("text", entity="company")], ["contact", "person"], {"f1": "x"})
    assert "does not apply" in err.value.errors[0].message


def test_every_bad_value_is_reported_at_once() -> None:
    definitions = [definition("text", id="a"), definition("checkbox", id="b")]
    with pytest.raises(ValidationFailed) as err:
        validate_values(definitions, ["contact"], {"a": 1, "b": "no", "c": "x"})
    assert sorted(e.field for e in err.value.errors) == ["custom_fields.a", "custom_fields.b", "custom_fields.c"]


def test_a_contact_stores_its_values_and_null_removes_one(unit: Unit) -> None:
    acme = unit.tenant()
    size = field(unit, acme, "Size", "select", options=["S", "M"])
    vip = field(unit, acme, "VIP", "checkbox", entity="person")
    anna = unit.contacts.create(
        acme.owner,
        acme.record,
        NewContact(kind="person", first_name="A", last_name="B", custom_fields={size.id: "M", vip.id: True}),
    )
    assert anna.custom_fields == {size.id: "M", vip.id: True}
    after = unit.contacts.update(
        acme.owner, acme.record, anna.id, ContactChanges(custom_fields={vip.id: None}), expected_version=1
    )
    assert after.custom_fields == {size.id: "M"}


def test_a_company_cannot_hold_a_person_field(unit: Unit) -> None:
    acme = unit.tenant()
    vip = field(unit, acme, "VIP", "checkbox", entity="person")
    with pytest.raises(ValidationFailed):
        unit.contacts.create(
            acme.owner, acme.record, NewContact(kind="company", company_name="X", custom_fields={vip.id: True})
        )


def test_a_deal_checks_its_custom_values(unit: Unit) -> None:
    acme = unit.tenant()
    due = field(unit, acme, "Signed on", "date", entity="deal")
    with pytest.raises(ValidationFailed):
        unit.deals.create(acme.owner, acme.record, NewDeal(title="x", custom_fields={due.id: "soon"}))
    made = unit.deals.create(acme.owner, acme.record, NewDeal(title="x", custom_fields={due.id: "2026-04-01"}))
    assert made.custom_fields == {due.id: "2026-04-01"}


def test_a_field_holding_values_cannot_be_deleted(unit: Unit) -> None:
    acme = unit.tenant()
    size = field(unit, acme)
    anna = unit.contacts.create(
        acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name="B", custom_fields={size.id: "L"})
    )
    with pytest.raises(Conflict, match="1 record"):
        unit.custom_fields.delete(acme.owner, size.id)
    unit.contacts.update(
        acme.owner, acme.record, anna.id, ContactChanges(custom_fields={size.id: None}), expected_version=1
    )
    unit.custom_fields.delete(acme.owner, size.id)
    with pytest.raises(NotFound):
        unit.custom_fields.get(acme.owner, size.id)


def test_a_field_in_use_keeps_its_type(unit: Unit) -> None:
    acme = unit.tenant()
    size = field(unit, acme)
    unit.contacts.create(
        acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name="B", custom_fields={size.id: "L"})
    )
    with pytest.raises(Conflict, match="type cannot change"):
        unit.custom_fields.update(acme.owner, size.id, CustomFieldChanges(type="textarea"), expected_version=1)


def test_a_select_in_use_may_gain_but_not_lose_options(unit: Unit) -> None:
    acme = unit.tenant()
    size = field(unit, acme, type="select", options=["S", "M"])
    unit.contacts.create(
        acme.owner, acme.record, NewContact(kind="person", first_name="A", last_name="B", custom_fields={size.id: "S"})
    )
    grown = unit.custom_fields.update(
        acme.owner, size.id, CustomFieldChanges(options=["S", "M", "L"]), expected_version=1
    )
    assert grown.options == ["S", "M", "L"]
    with pytest.raises(Conflict, match="removed: M"):
        unit.custom_fields.update(acme.owner, size.id, CustomFieldChanges(options=["S", "L"]), expected_version=2)


def test_an_unused_field_may_change_type_and_loses_its_options(unit: Unit) -> None:
    acme = unit.tenant()
    size = field(unit, acme, type="select", options=["S", "M"])
    changed = unit.custom_fields.update(acme.owner, size.id, CustomFieldChanges(type="text"), expected_version=1)
    assert (changed.type, changed.options, changed.version) == ("text", [], 2)


def test_turning_a_field_into_a_select_needs_options(unit: Unit) -> None:
    acme = unit.tenant()
    size = field(unit, acme)
    with pytest.raises(ValidationFailed) as err:
        unit.custom_fields.update(acme.owner, size.id, CustomFieldChanges(type="select"), expected_version=1)
    assert err.value.errors[0].field == "options"


def test_a_field_change_names_its_version(unit: Unit) -> None:
    acme = unit.tenant()
    size = field(unit, acme)
    with pytest.raises(PreconditionFailed):
        unit.custom_fields.update(acme.owner, size.id, CustomFieldChanges(label="Sz"), expected_version=2)


def test_a_deleted_fields_value_is_refused_afterwards(unit: Unit) -> None:
    acme = unit.tenant()
    size = field(unit, acme)
    unit.custom_fields.delete(acme.owner, size.id)
    with pytest.raises(ValidationFailed):
        unit.contacts.create(
            acme.owner,
            acme.record,
            NewContact(kind="person", first_name="A", last_name="B", custom_fields={size.id: "L"}),
        )


def test_custom_fields_of_another_tenant_do_not_apply(unit: Unit) -> None:
    acme, globex = unit.tenant("Acme"), unit.tenant("Globex")
    theirs = field(unit, globex)
    with pytest.raises(ValidationFailed):
        unit.contacts.create(
            acme.owner,
            acme.record,
            NewContact(kind="person", first_name="A", last_name="B", custom_fields={theirs.id: "x"}),
        )


def test_a_null_icon_removes_it_but_a_null_color_keeps_it(unit: Unit) -> None:
    from chalicelib.domain.settings.lists import TaskCategoryChanges, TemperatureChanges

    acme = unit.tenant()
    demo = unit.settings_lists.get(acme.owner, "task-categories", entry_id(unit, acme, "task-categories", "Demo"))
    changed = unit.settings_lists.update(
        acme.owner, "task-categories", demo.id, TaskCategoryChanges(icon=None), expected_version=demo.version
    )
    assert changed.icon is None
    warm = unit.settings_lists.get(acme.owner, "temperatures", entry_id(unit, acme, "temperatures", "Warm"))
    kept = unit.settings_lists.update(
        acme.owner,
        "temperatures",
        warm.id,
        TemperatureChanges(color=None, name="Lukewarm"),
        expected_version=warm.version,
    )
    assert (kept.name, kept.color) == ("Lukewarm", "#f6b26b")


def test_a_reorder_that_moves_nothing_changes_no_version(unit: Unit) -> None:
    acme = unit.tenant()
    before = unit.settings_lists.list(acme.owner, "temperatures")
    after = unit.settings_lists.reorder(acme.owner, "temperatures", [e.id for e in before])
    assert [e.version for e in after] == [e.version for e in before]


def test_a_stage_probability_change_does_not_touch_existing_deals(unit: Unit) -> None:
    acme = unit.tenant()
    proposal = unit.settings_lists.get(acme.owner, "deal-stages", entry_id(unit, acme, "deal-stages", "Proposal"))
    deal = unit.deals.create(acme.owner, acme.record, NewDeal(title="x", stage_id=proposal.id))
    unit.settings_lists.update(
        acme.owner, "deal-stages", proposal.id, DealStageChanges(probability=60), expected_version=proposal.version
    )
    assert unit.deals.get(acme.owner, deal.id).probability == 75
    assert unit.deals.create(acme.owner, acme.record, NewDeal(title="y", stage_id=proposal.id)).probability == 60


def test_a_deleted_entry_name_can_be_used_again(unit: Unit) -> None:
    acme = unit.tenant()
    unit.settings_lists.delete(acme.owner, "contact-types", entry_id(unit, acme, "contact-types", "Competitor"))
    again = unit.settings_lists.create(acme.owner, "contact-types", NewContactType(name="competitor"))
    assert again.name == "competitor"


def test_the_tasks_of_a_retired_category_move_in_the_background(unit: Unit) -> None:
    acme = unit.tenant()
    demo, lunch = entry_id(unit, acme, "task-categories", "Demo"), entry_id(unit, acme, "task-categories", "Lunch")
    made = unit.tasks.create(acme.owner, NewTask(title="Show it", due_at=START, category_id=demo))
    unit.settings_lists.delete(acme.owner, "task-categories", demo, replacement=lunch)
    assert unit.tasks.get(acme.owner, made.id).category_id == demo
    unit.run_jobs()
    assert unit.tasks.get(acme.owner, made.id).category_id == lunch
    with pytest.raises(Conflict, match="used by 1 record"):  # the use moved with the task
        unit.settings_lists.delete(acme.owner, "task-categories", lunch)
