"""Fixtures of the API tests in this folder (tests/conftest.py has the shared ones)."""

from __future__ import annotations

from typing import Any

import pytest


def _drain(queue: str, handler: Any) -> dict[str, Any]:
    from chalicelib.storage.dynamo.aws import client as aws_client
    from chalicelib.storage.queues import queue_url

    sqs, url, failures, handled = aws_client("sqs"), queue_url(queue), [], 0
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return {"handled": handled, "failures": failures}
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:eu-central-1:123456789012:crm-{queue}",
                    "awsRegion": "eu-central-1",
                }
                for m in messages
            ]
        }
        result = handler(event)
        failures += result["batchItemFailures"]
        handled += len(messages)
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def run_documents(aws: None) -> Any:
    """Deliver the documents queue to the documents function's handler, as Lambda (or the pump) would."""

    def run() -> dict[str, Any]:
        from chalicelib.handlers.background.documents import handle_batch

        return _drain("documents", handle_batch)

    return run
