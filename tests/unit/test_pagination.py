"""Cursors: tamper-proof, bound to tenant and query; limits clamped."""

import pytest

from chalicelib.domain.shared.errors import BadRequest, ValidationFailed
from chalicelib.domain.shared.pagination import CursorCodec, QueryScope, Slice, parse_limit

codec = CursorCodec(b"secret")
SCOPE = QueryScope("tenant-a", "contacts.list", {"kind": "person"})
POSITION = {"pk": "T#tenant-a#CONTACT#01", "sk": "META"}


def test_cursor_round_trips_within_its_scope():
    token = codec.encode(POSITION, SCOPE)
    assert codec.decode(token, SCOPE) == POSITION


def test_cursor_of_another_tenant_is_refused():
    token = codec.encode(POSITION, SCOPE)
    with pytest.raises(BadRequest):
        codec.decode(token, QueryScope("tenant-b", "contacts.list", {"kind": "person"}))


def test_cursor_of_another_query_or_filter_is_refused():
    token = codec.encode(POSITION, SCOPE)
    with pytest.raises(BadRequest):
        codec.decode(token, QueryScope("tenant-a", "deals.list", {"kind": "person"}))
    with pytest.raises(BadRequest):
        codec.decode(token, QueryScope("tenant-a", "contacts.list", {"kind": "company"}))


def test_altered_or_forged_cursor_is_refused():
    token = codec.encode(POSITION, SCOPE)
    payload, signature = token.split(".")
    forged_payload = CursorCodec(b"secret").encode({"pk": "T#tenant-b#X", "sk": "META"}, SCOPE).split(".")[0]
    for bad in (
        f"{forged_payload}.{signature}",
        token + "x",
        "garbage",
        "",
        "a.b.c",
        CursorCodec(b"other-secret").encode(POSITION, SCOPE),
    ):
        with pytest.raises(BadRequest):
            codec.decode(bad, SCOPE)


def test_param_order_does_not_matter():
    a = QueryScope("t", "q", {"a": 1, "b": 2})
    b = QueryScope("t", "q", {"b": 2, "a": 1})
    assert codec.decode(codec.encode(POSITION, a), b) == POSITION


@pytest.mark.parametrize("raw, expected", [(None, 50), ("", 50), ("1", 1), ("200", 200), (7, 7)])
def test_limit_defaults_to_50_and_takes_1_to_200(raw, expected):
    assert parse_limit(raw) == expected


@pytest.mark.parametrize("raw", ["ten", "0", "-5", "201", "10000", "1.5"])
def test_a_limit_outside_1_to_200_is_a_validation_error_not_clamped(raw):
    with pytest.raises(ValidationFailed) as caught:
        parse_limit(raw)
    assert caught.value.errors[0].field == "limit"


def test_page_has_no_cursor_when_storage_is_exhausted():
    assert codec.page(Slice([1, 2], None), SCOPE).next_cursor is None
    page = codec.page(Slice([1, 2], POSITION), SCOPE)
    assert codec.decode(page.next_cursor, SCOPE) == POSITION
