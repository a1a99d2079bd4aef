"""The rate counter's contract (issue 19), asserted of the in-memory twin and
the DynamoDB adapter alike: counts up to the limit and no further, windows,
scopes, subjects and tenants apart, give-backs never below zero."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.shared.limits import Counter

EXPIRES = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def counters(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        from chalicelib.storage.memory.limits import MemoryRateCounters

        yield MemoryRateCounters()
    else:
        request.getfixturevalue("aws")
        from chalicelib.storage.limits import DynamoRateCounters

        yield DynamoRateCounters()


def test_counts_up_to_the_limit_and_answers_the_count(counters):
    counter = Counter("token", "tok1", 7, "t1")
    assert [counters.take(counter, 3, EXPIRES) for _ in range(5)] == [1, 2, 3, None, None]


def test_windows_scopes_subjects_and_tenants_are_apart(counters):
    base = Counter("ip", "abc", 7, None)
    assert counters.take(base, 1, EXPIRES) == 1 and counters.take(base, 1, EXPIRES) is None
    for other in (
        Counter("ip", "abc", 8, None),
        Counter("login", "abc", 7, None),
        Counter("ip", "abd", 7, None),
        Counter("ip", "abc", 7, "t1"),
        Counter("ip", "abc", 7, "t2"),
    ):
        assert counters.take(other, 1, EXPIRES) == 1, other


def test_give_back_uncounts_one_and_never_goes_below_zero_or_creates(counters):
    counter = Counter("login", "digest", 3, None)
    counters.give_back(counter)  # nothing there: nothing happens
    assert counters.take(counter, 2, EXPIRES) == 1
    counters.give_back(counter)
    counters.give_back(counter)
    assert [counters.take(counter, 2, EXPIRES) for _ in range(3)] == [1, 2, None]


def test_the_item_expires_by_ttl_and_only_swept_counters_enter_the_schedule_index(aws):
    from chalicelib.storage.dynamo import keys
    from chalicelib.storage.dynamo.table import Table
    from chalicelib.storage.limits import DynamoRateCounters

    counters = DynamoRateCounters()
    api = Counter("token", "tok1", 7, "t1")
    form = Counter("form-ip", "abc", 7, "t1", sweep=True)
    counters.take(api, 5, EXPIRES)
    counters.take(form, 5, EXPIRES)
    api_item = Table().get(keys.rate_counter("t1", "token", "tok1", 7))
    form_item = Table().get(keys.rate_counter("t1", "form-ip", "abc", 7))
    assert api_item is not None and form_item is not None
    assert api_item["ttl"] == int(EXPIRES.timestamp()) and "sched_pk" not in api_item, "one write, no index entry"
    assert form_item["ttl"] == int(EXPIRES.timestamp()) and form_item["sched_pk"] == keys.expiry_bucket(EXPIRES)
    assert api_item["pk"].startswith("T#t1#LIMIT#token#")
    assert keys.rate_counter(None, "ip", "abc", 7) == {"pk": "SYS#LIMIT#ip#abc", "sk": "W#7"}
