"""SQS port: send job messages by logical queue name."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain.shared.errors import TemporarilyUnavailable
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors


@functools.cache
def _queue_url(queue_name: str, endpoint: str | None) -> str:
    with aws_errors():
        return client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]


def queue_url(logical: str) -> str:
    settings = get_settings()
    return _queue_url(settings.queue_name(logical), settings.aws_endpoint_url)


class Queue:
    def __init__(self, logical: str):
        self.logical = logical

    def send(self, message: Mapping[str, Any], *, delay_seconds: int = 0) -> None:
        with aws_errors():
            client("sqs").send_message(
                QueueUrl=queue_url(self.logical),
                MessageBody=json.dumps(message, default=str),
                DelaySeconds=delay_seconds,
            )

    def send_many(self, messages: Iterable[Mapping[str, Any]]) -> None:
        batch: list[dict[str, str]] = []
        for message in messages:
            batch.append({"Id": str(len(batch)), "MessageBody": json.dumps(message, default=str)})
            if len(batch) == 10:
                self._send_batch(batch)
                batch = []
        if batch:
            self._send_batch(batch)

    def _send_batch(self, entries: list[dict[str, str]]) -> None:
        with aws_errors():
            answer = client("sqs").send_message_batch(QueueUrl=queue_url(self.logical), Entries=entries)
        failed = answer.get("Failed") or []
        if failed:
            # Nothing may be lost: surface the failure so the caller retries.
            raise TemporarilyUnavailable(f"{len(failed)} messages were not queued; please retry.")

    def ping(self) -> None:
        queue_url(self.logical)


def reset_queue_urls() -> None:
    _queue_url.cache_clear()
