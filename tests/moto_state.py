"""moto's state after a test's usual start, kept and handed to the next tests.

Every API test starts the same way: a fresh moto, the table (four GSIs), the
bucket, the queues and the SES sender created by ``create_resources()``, then
a tenant or two created through the admin CLI and seeded (settings lists,
currency, contact tags: a 60-item transaction each). That is the same state
every time and was most of each test's time. So the first test that needs a
given start builds it for real and this module keeps a copy of moto's
backends; later tests start a fresh moto as before and get a copy of that
copy. Each test still owns its state: copies share nothing.

Only the services ``create_resources()`` uses are kept (DynamoDB, S3, SQS,
SES); every other backend starts empty as moto resets it.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.core.base_backend import BackendDict
from moto.s3.models import s3_backends

SERVICES = frozenset({"dynamodb", "s3", "sqs", "ses"})

# moto's backends hold locks (an S3 key's, an SQS queue's Condition, the
# emulator's transaction tokens'): a copy gets new ones, as a new backend would.
_FRESH: dict[type, Any] = {
    type(threading.Lock()): lambda lock, memo: threading.Lock(),
    type(threading.RLock()): lambda lock, memo: threading.RLock(),
    threading.Condition: lambda condition, memo: threading.Condition(),
}


def _copy(value: Any) -> Any:
    # The copy module has no public hook for types it cannot copy; the
    # dispatch table is swapped for this call only (tests run one at a time
    # in a process).
    dispatch = copy._deepcopy_dispatch  # type: ignore[attr-defined]
    saved = {kind: dispatch.get(kind) for kind in _FRESH}
    dispatch.update(_FRESH)
    try:
        return copy.deepcopy(value)
    finally:
        for kind, before in saved.items():
            if before is None:
                dispatch.pop(kind, None)
            else:
                dispatch[kind] = before


class MotoState:
    """A copy of the backends of SERVICES as they are now (inside mock_aws)."""

    def __init__(self, extra: Any = None):
        self._backends: dict[tuple[BackendDict[Any], str, str], Any] = {}
        for backends in list(BackendDict._instances):  # type: ignore[misc]
            if backends.service_name not in SERVICES:
                continue
            for account_id, regions in backends.items():
                for region, backend in regions.items():
                    self._backends[(backends, account_id, region)] = _copy(backend)
        # S3's one bucket namespace lives beside the backends.
        self._bucket_accounts = dict(s3_backends.bucket_accounts)
        # What the builder wants back with the state (the tenants' ids).
        self.extra = extra

    def restore(self) -> None:
        """Into a mock_aws that has just started (so was reset)."""
        for (backends, account_id, region), backend in self._backends.items():
            dict.__setitem__(backends[account_id], region, _copy(backend))
        s3_backends.bucket_accounts.update(self._bucket_accounts)
