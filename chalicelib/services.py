"""Composition root: domain services wired to their real adapters, built once
per container on first use. Tests reach the same wiring over moto."""
from __future__ import annotations

import functools

from chalicelib.config import get_settings
from chalicelib.domain.housekeeping import Housekeeping
from chalicelib.domain.pagination import CursorCodec


@functools.cache
def cursor_codec() -> CursorCodec:
    return CursorCodec(get_settings().cursor_secret)


@functools.cache
def housekeeping() -> Housekeeping:
    from chalicelib.storage.expiry import ExpiringItemsStore
    from chalicelib.storage.queues import Queue

    return Housekeeping(ExpiringItemsStore(), Queue("jobs"))


def reset() -> None:
    """Forget every built service (tests change settings between cases)."""
    for factory in (cursor_codec, housekeeping):
        factory.cache_clear()
