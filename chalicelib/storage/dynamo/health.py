"""Readiness: do the table, the bucket and the queues answer?"""

from __future__ import annotations

from chalicelib.storage.blobs import BlobStore
from chalicelib.storage.dynamo.table import Table
from chalicelib.storage.dynamo.table_spec import QUEUES
from chalicelib.storage.queues import Queue


def check_dependencies() -> None:
    """Raises a domain error when one of them does not answer."""
    Table().get({"pk": "SYS#HEALTH", "sk": "PING"})
    BlobStore().ping()
    for logical in QUEUES:
        Queue(logical).ping()
