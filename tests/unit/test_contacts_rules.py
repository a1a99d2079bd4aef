"""Contact rules that need no store: kinds and names (CON-1), details (CON-3),
tags, search words and the list query (CON-12)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.contacts.details import (
    ContactDetail,
    looks_like_phone,
    normalise_details,
    normalise_phone,
)
from chalicelib.domain.contacts.models import (
    Contact,
    ContactChanges,
    ContactQuery,
    NewContact,
    clean_tags,
    entry_matches,
    search_words,
    tokens_match,
)
from chalicelib.domain.shared.errors import ValidationFailed

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def contact(**fields: Any) -> Contact:
    base: dict[str, Any] = {"id": "c1", "tenant_id": "t", "kind": "person", "created_at": NOW, "updated_at": NOW}
    return Contact(**{**base, **fields})


def details(*items: dict[str, Any], region: str = "DE") -> list[dict[str, Any]]:
    return normalise_details([ContactDetail.model_validate(d) for d in items], region)


# ---- kinds and names (CON-1) ----


def test_a_person_needs_a_first_name() -> None:
    with pytest.raises(ValidationError, match="first_name"):
        NewContact(kind="person", last_name="Müller")


def test_a_person_needs_a_last_name() -> None:
    with pytest.raises(ValidationError, match="last_name"):
        NewContact(kind="person", first_name="Anna")


def test_a_person_cannot_carry_a_company_name_of_its_own() -> None:
    with pytest.raises(ValidationError, match="company_id"):
        NewContact(kind="person", first_name="Anna", last_name="Müller", company_name="Acme")


def test_a_company_needs_its_name() -> None:
    with pytest.raises(ValidationError, match="company_name"):
        NewContact(kind="company")


@pytest.mark.parametrize("field", ["first_name", "last_name", "job_title", "company_id"])
def test_a_company_refuses_person_fields(field: str) -> None:
    with pytest.raises(ValidationError, match="for persons"):
        NewContact(kind="company", company_name="Acme", **{field: "x"})


def test_names_are_trimmed_and_inner_whitespace_collapsed() -> None:
    new = NewContact(kind="person", first_name="  Anna  Maria ", last_name="Müller\t")
    assert (new.first_name, new.last_name) == ("Anna Maria", "Müller")


def test_a_blank_first_name_counts_as_missing() -> None:
    with pytest.raises(ValidationError):
        NewContact(kind="person", first_name="   ", last_name="Müller")


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        NewContact(kind="person", first_name="A", last_name="B", nickname="x")  # type: ignore[call-arg]


def test_a_name_longer_than_200_characters_is_refused() -> None:
    with pytest.raises(ValidationError):
        NewContact(kind="person", first_name="A" * 201, last_name="B")


def test_more_than_ten_tags_are_refused() -> None:
    with pytest.raises(ValidationError):
        NewContact(kind="company", company_name="Acme", tags=[f"t{n}" for n in range(11)])


def test_more_than_five_managers_are_refused() -> None:
    with pytest.raises(ValidationError):
        ContactChanges(managers=[f"u{n}" for n in range(6)])


def test_managers_may_be_left_out_but_not_nulled() -> None:
    assert "managers" not in ContactChanges().model_dump(exclude_unset=True)
    with pytest.raises(ValidationError, match="may not be null"):
        ContactChanges(managers=None)


def test_access_may_not_be_nulled() -> None:
    with pytest.raises(ValidationError, match="may not be null"):
        ContactChanges(access=None)


def test_an_empty_managers_list_is_refused() -> None:
    with pytest.raises(ValidationError):
        ContactChanges(managers=[])


def test_a_currency_must_be_an_iso_code() -> None:
    with pytest.raises(ValidationError):
        NewContact(kind="company", company_name="Acme", currency="EURO")


def test_a_person_displays_first_then_last_name_and_sorts_by_last_name() -> None:
    anna = contact(first_name="Anna", last_name="Zander")
    assert anna.display_name == "Anna Zander"
    assert anna.sort_name == "zander anna"


def test_a_company_displays_and_sorts_by_its_name() -> None:
    acme = contact(kind="company", company_name="Ärzte GmbH")
    assert acme.display_name == "Ärzte GmbH"
    assert acme.sort_name == "arzte gmbh"


def test_a_person_with_no_names_displays_empty() -> None:
    assert contact().display_name == ""


# ---- tags ----


def test_tags_are_trimmed_and_deduplicated_ignoring_case_keeping_the_first_spelling() -> None:
    assert clean_tags([" VIP ", "vip", "Lead  Gen", "lead gen", "Fair"]) == ["VIP", "Lead Gen", "Fair"]


def test_blank_tags_are_dropped() -> None:
    assert clean_tags(["  ", "A"]) == ["A"]


# ---- details (CON-3) ----


def test_a_phone_number_is_stored_in_e164_in_the_tenants_region() -> None:
    assert details({"type": "phone", "value": "030 1234567"})[0]["value"] == "+49301234567"
    assert details({"type": "phone", "value": "(212) 555-0100"}, region="US")[0]["value"] == "+12125550100"


def test_a_number_with_country_code_ignores_the_region() -> None:
    assert details({"type": "phone", "value": "+44 20 7946 0958"}, region="DE")[0]["value"] == "+442079460958"


def test_a_phone_that_is_no_number_is_refused_naming_its_position() -> None:
    with pytest.raises(ValidationFailed) as err:
        details({"type": "email", "value": "a@b.de"}, {"type": "phone", "value": "call me"})
    assert [e.field for e in err.value.errors] == ["details.1.value"]


def test_an_email_keeps_its_local_part_and_lowercases_its_domain() -> None:
    assert details({"type": "email", "value": " Anna.M@Example.COM "})[0]["value"] == "Anna.M@example.com"


def test_an_invalid_email_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        details({"type": "email", "value": "not-an-address"})


def test_a_website_without_scheme_becomes_https() -> None:
    assert details({"type": "website", "value": "example.com"})[0]["value"] == "https://example.com"
    assert details({"type": "website", "value": "http://example.com"})[0]["value"] == "http://example.com"


@pytest.mark.parametrize("value", ["localhost", "exa mple.com"])
def test_a_website_must_look_like_a_web_address(value: str) -> None:
    with pytest.raises(ValidationFailed):
        details({"type": "website", "value": value})


def test_a_detail_without_category_gets_the_default_of_its_type() -> None:
    found = details({"type": "phone", "value": "030 1234567"}, {"type": "social", "value": "@anna"})
    assert [d["category"] for d in found] == ["work", "other"]


def test_a_category_must_belong_to_the_type() -> None:
    with pytest.raises(ValidationFailed) as err:
        details({"type": "email", "category": "mobile", "value": "a@b.de"})
    assert err.value.errors[0].field == "details.0.category"


def test_an_address_is_an_object_and_other_details_are_text() -> None:
    with pytest.raises(ValidationFailed):
        details({"type": "address", "value": "Main Street 1"})
    with pytest.raises(ValidationFailed):
        details({"type": "email", "value": {"city": "Berlin"}})


def test_an_address_needs_at_least_one_part() -> None:
    with pytest.raises(ValidationError):
        ContactDetail.model_validate({"type": "address", "value": {}})


def test_the_first_detail_of_a_type_becomes_primary_when_none_is() -> None:
    found = details(
        {"type": "email", "value": "a@b.de"},
        {"type": "email", "value": "c@d.de"},
        {"type": "phone", "value": "0301234567"},
    )
    assert [d["primary"] for d in found] == [True, False, True]


def test_a_named_primary_stays_the_only_primary() -> None:
    found = details({"type": "email", "value": "a@b.de"}, {"type": "email", "value": "c@d.de", "primary": True})
    assert [d["primary"] for d in found] == [False, True]


def test_two_primaries_of_one_type_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="one primary"):
        details(
            {"type": "email", "value": "a@b.de", "primary": True}, {"type": "email", "value": "c@d.de", "primary": True}
        )


def test_at_most_five_different_emails_are_kept_searchable() -> None:
    with pytest.raises(ValidationFailed, match="one type"):
        details(*({"type": "email", "value": f"a{n}@b.de"} for n in range(6)))


def test_at_most_forty_details() -> None:
    with pytest.raises(ValidationFailed, match="Too many"):
        details(*({"type": "social", "value": f"@a{n}"} for n in range(41)))


@pytest.mark.parametrize(
    ("text", "phone"), [("030 1234567", True), ("+49 (30) 123-45", True), ("1234", False), ("anna 12345", False)]
)
def test_what_looks_like_a_phone_number(text: str, phone: bool) -> None:
    assert looks_like_phone(text) is phone


def test_an_impossible_number_is_no_phone() -> None:
    assert normalise_phone("+49 123456789012345678", "DE") is None
    assert normalise_phone("hello", "DE") is None


# ---- search (CON-12) ----


def test_search_tokens_hold_name_words_spelling_variants_company_and_emails() -> None:
    anna = contact(
        first_name="Anna",
        last_name="Müller",
        company_name="Acme Tools",
        details=[{"type": "email", "value": "Anna@Example.com", "category": "work", "primary": True}],
    )
    assert anna.search_tokens() == ["anna", "muller", "mueller", "acme", "tools", "anna@example.com"]


def test_single_letters_are_not_search_tokens() -> None:
    assert contact(first_name="J", last_name="Doe").search_tokens() == ["doe"]


def test_a_company_is_not_searched_by_a_company_name_twice() -> None:
    assert contact(kind="company", company_name="Acme Tools").search_tokens() == ["acme", "tools"]


def test_search_reads_by_the_longest_word_and_checks_the_others() -> None:
    assert search_words("an müller") == ("muller", ["an"])
    assert tokens_match(["anna", "muller"], ["an"]) is True
    assert tokens_match(["anna", "muller"], ["be"]) is False


def test_a_query_cannot_combine_search_and_sort() -> None:
    with pytest.raises(ValidationError, match="sort"):
        ContactQuery(q="anna", sort="name")


def test_a_query_needs_a_word_of_two_letters_or_a_phone_number() -> None:
    with pytest.raises(ValidationError, match="two letters"):
        ContactQuery(q="a b")
    assert ContactQuery(q="030 12345").q == "030 12345"


def test_a_query_is_at_least_two_characters() -> None:
    with pytest.raises(ValidationError):
        ContactQuery(q="a")


def entry(**fields: Any) -> dict[str, Any]:
    return {"kind": "person", "tags": ["vip"], "managers": ["u1"], "created_at": NOW.isoformat(), **fields}


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ({"kind": "person"}, True),
        ({"kind": "company"}, False),
        ({"tag": "VIP"}, True),
        ({"tag": "lead"}, False),
        ({"manager_id": "u1"}, True),
        ({"manager_id": "u2"}, False),
        ({"type_id": "none"}, True),
        ({"type_id": "client"}, False),
        ({"temperature_id": "none"}, True),
        ({"company_id": "c9"}, False),
        ({"created_from": datetime(2026, 3, 1, tzinfo=UTC)}, True),
        ({"created_from": datetime(2026, 3, 3, tzinfo=UTC)}, False),
        ({"created_to": datetime(2026, 3, 1, tzinfo=UTC)}, False),
    ],
)
def test_list_filters_match_index_entries(query: dict[str, Any], matches: bool) -> None:
    assert entry_matches(entry(), ContactQuery(**query)) is matches


def test_a_filter_names_the_tenants_type_and_none_is_contacts_without_one() -> None:
    assert entry_matches(entry(type_id="client"), ContactQuery(type_id="client")) is True
    assert entry_matches(entry(type_id="client"), ContactQuery(type_id="none")) is False
