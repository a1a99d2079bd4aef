"""The fixed-window limiter's rules over the in-memory twin (issue 19)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.shared.limits import ApiLimits, Counter, Limit, RateLimiter, client_digest
from chalicelib.storage.memory.limits import MemoryRateCounters

NOW = datetime(2030, 1, 7, 9, 15, 30, tzinfo=UTC)  # 30 s into a minute
LIMIT = Limit("token", hits=3, window_seconds=60)


def test_a_window_takes_its_hits_then_refuses_until_it_ends():
    limiter = RateLimiter(MemoryRateCounters())
    quotas = [limiter.take(LIMIT, "tok", NOW) for _ in range(5)]
    assert [q.allowed for q in quotas] == [True, True, True, False, False]
    assert [q.remaining for q in quotas] == [2, 1, 0, 0, 0]
    assert {q.reset for q in quotas} == {30}, "seconds to the window's end"
    assert limiter.take(LIMIT, "tok", NOW + timedelta(seconds=30)).remaining == 2, "the next window is fresh"
    assert limiter.take(LIMIT, "other", NOW).allowed, "another subject has its own window"


def test_a_refused_hit_counts_nothing_so_a_flood_never_extends_the_wait():
    counters = MemoryRateCounters()
    limiter = RateLimiter(counters)
    for _ in range(50):
        limiter.take(LIMIT, "tok", NOW)
    assert list(counters.hits.values()) == [3]


def test_counters_expire_an_hour_after_their_window_and_know_their_tenant():
    counters = MemoryRateCounters()
    RateLimiter(counters).take(LIMIT, "tok", NOW, tenant_id="t1")
    [(counter, expires)] = counters.expires.items()
    assert counter == Counter("token", "tok", LIMIT.window(NOW.timestamp()), "t1")
    assert expires == datetime(2030, 1, 7, 9, 16, tzinfo=UTC) + timedelta(hours=1)


def test_giving_back_returns_one_hit_and_never_for_a_refused_take():
    counters = MemoryRateCounters()
    limiter = RateLimiter(counters)
    taken = [limiter.take(LIMIT, "tok", NOW) for _ in range(4)]
    limiter.give_back(taken[3])  # refused: nothing to give back
    assert not limiter.take(LIMIT, "tok", NOW).allowed
    limiter.give_back(taken[0])
    assert limiter.take(LIMIT, "tok", NOW).allowed and not limiter.take(LIMIT, "tok", NOW).allowed


def test_parallel_takes_never_pass_the_limit():
    limiter = RateLimiter(MemoryRateCounters())
    limit = Limit("login", hits=5, window_seconds=900)
    with ThreadPoolExecutor(max_workers=20) as pool:
        allowed = list(pool.map(lambda _: limiter.take(limit, "e", NOW).allowed, range(40)))
    assert allowed.count(True) == 5


def test_retry_after_is_whole_seconds_and_at_least_one():
    assert LIMIT.retry_after(59.2) == 1 and LIMIT.retry_after(60.0) == 60 and LIMIT.retry_after(0.5) == 60
    assert LIMIT.window_end(61) == 120


@pytest.mark.parametrize("text", ["", "x/60", "600/0", "0/60", "600/x"])
def test_limits_in_settings_are_hits_per_seconds(text):
    with pytest.raises(ValueError):
        Limit.parse("token", text)


def test_limits_parse_from_settings():
    assert Limit.parse("ip", " 300/60 ") == Limit("ip", 300, 60)
    assert Limit.parse("ip", "100") == Limit("ip", 100, 60), "a bare number is per minute"


def test_the_api_counts_tokens_and_addresses_apart_and_an_ipv6_client_by_its_64():
    counters = MemoryRateCounters()
    limits = ApiLimits(
        RateLimiter(counters),
        per_token=Limit("token", 2, 60),
        per_client=Limit("ip", 2, 60),
        client_key=b"k" * 32,
        clock=lambda: NOW,
    )
    assert limits.for_token("t1", "tok1").allowed and limits.for_token("t1", "tok1").allowed
    assert not limits.for_token("t1", "tok1").allowed and limits.for_token("t1", "tok2").allowed
    assert limits.for_client("2001:db8:1:2::1").allowed and limits.for_client("2001:db8:1:2:ffff::9").allowed
    assert not limits.for_client("2001:db8:1:2::5").allowed, "the same /64"
    assert limits.for_client("2001:db8:1:3::1").allowed, "another /64"
    assert limits.for_client("203.0.113.5").allowed and limits.for_client("::ffff:203.0.113.5").allowed
    assert not limits.for_client("203.0.113.5").allowed, "an IPv4-mapped address is the IPv4 client"
    token_counter = next(c for c in counters.hits if c.scope == "token")
    assert token_counter.tenant_id == "t1" and all(c.tenant_id is None for c in counters.hits if c.scope == "ip")
    assert not any("203.0.113.5" in c.subject or "2001" in c.subject for c in counters.hits), "addresses are HMACs"
    assert client_digest(b"k" * 32, "garbage") == client_digest(b"k" * 32, "unknown")
