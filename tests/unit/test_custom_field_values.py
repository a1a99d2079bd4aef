"""Custom field values (SET-8, CON-4): each type checks and normalises its
value, unknown and foreign fields are named. No AWS, no HTTP; definitions
through the API are tests/api/test_custom_fields.py."""

from datetime import UTC, datetime

import pytest

from chalicelib.domain.settings.custom_fields import CustomField, kinds_for, merge_values, validate_values
from chalicelib.domain.shared.errors import ValidationFailed

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def definition(field_id, field_type, entity="contact", options=(), version=1):
    return CustomField(
        id=field_id,
        entity=entity,
        label=field_id.title(),
        type=field_type,
        options=list(options),
        order=1,
        version=version,
        created_at=NOW,
        updated_at=NOW,
    )


DEFINITIONS = [
    definition("nickname", "text"),
    definition("notes", "textarea"),
    definition("size", "select", entity="person", options=["S", "M", "L"]),
    definition("vip", "checkbox", entity="company"),
    definition("birthday", "date", entity="person"),
    definition("section", "heading"),
    definition("budget", "text", entity="deal"),
]


def fields_of(error):
    return {e.field: e.message for e in error.value.errors}


def test_valid_values_are_normalised():
    values = {"nickname": "Ann", "notes": "x" * 10000, "size": "M", "birthday": "19800131"}
    assert validate_values(DEFINITIONS, kinds_for("person"), values) == {
        "nickname": "Ann",
        "notes": "x" * 10000,
        "size": "M",
        "birthday": "1980-01-31",
    }
    assert validate_values(DEFINITIONS, kinds_for("company"), {"vip": False}) == {"vip": False}


def test_null_and_empty_text_remove_a_value():
    changes = validate_values(DEFINITIONS, kinds_for("person"), {"nickname": None, "notes": "  ", "size": "L"})
    assert changes == {"nickname": None, "notes": None, "size": "L"}
    assert merge_values({"nickname": "Ann", "birthday": "1980-01-31"}, changes) == {
        "birthday": "1980-01-31",
        "size": "L",
    }


@pytest.mark.parametrize(
    "values, message",
    [
        ({"nickname": "x" * 1001}, "at most 1000"),
        ({"notes": "x" * 10001}, "at most 10000"),
        ({"nickname": 42}, "string"),
        ({"size": "XL"}, "one of: S, M, L"),
        ({"size": "m"}, "one of"),
        ({"birthday": "31.01.1980"}, "YYYY-MM-DD"),
        ({"birthday": "2023-02-30"}, "YYYY-MM-DD"),
        ({"section": "anything"}, "takes no value"),
    ],
)
def test_each_type_checks_its_value(values, message):
    with pytest.raises(ValidationFailed) as failed:
        validate_values(DEFINITIONS, kinds_for("person"), values)
    ((field, problem),) = fields_of(failed).items()
    assert field == f"custom_fields.{next(iter(values))}" and message in problem


def test_checkbox_takes_booleans_only():
    for value in ("true", 1, "yes"):
        with pytest.raises(ValidationFailed):
            validate_values(DEFINITIONS, kinds_for("company"), {"vip": value})


def test_unknown_and_foreign_fields_are_named_all_at_once():
    with pytest.raises(ValidationFailed) as failed:
        validate_values(
            DEFINITIONS, kinds_for("company"), {"ghost": "x", "size": "M", "budget": "1", "nickname": "ok", "vip": "no"}
        )
    assert set(fields_of(failed)) == {
        "custom_fields.ghost",
        "custom_fields.size",
        "custom_fields.budget",
        "custom_fields.vip",
    }
    assert "no such custom field" in fields_of(failed)["custom_fields.ghost"]
    with pytest.raises(ValidationFailed):  # a deal carries deal fields only
        validate_values(DEFINITIONS, kinds_for("deal"), {"nickname": "x"})


def test_deleted_definitions_take_no_values():
    gone = definition("old", "text").model_copy(update={"state": "deleted"})
    with pytest.raises(ValidationFailed):
        validate_values([gone], kinds_for("person"), {"old": "x"})
