"""The documents queue reaches the documents function's handler everywhere:
the deployment (infra/aws/stack.py), the local job pump, /health's queues;
and its message kinds are the documents function's, not the jobs worker's."""

from __future__ import annotations

import pytest

from chalicelib.bootstrap.jobs import DOCUMENT_KINDS, JOB_KINDS
from chalicelib.handlers.background import documents
from chalicelib.storage.dynamo.table_spec import QUEUES
from infra.aws.stack import FUNCTIONS, ROLES
from infra.local.pump import plain_consumers


def test_the_pump_delivers_the_documents_queue_to_the_documents_handler() -> None:
    consumers = plain_consumers()
    assert set(consumers) == {"documents"}
    handler, queue, batch_size = consumers["documents"]
    assert handler is documents.handle_batch and queue == "crm-documents" and batch_size == 1


def test_one_queue_spec_for_the_local_stack_health_and_the_deployment() -> None:
    assert "documents" in QUEUES and FUNCTIONS["documents"].consumes == "documents"
    assert FUNCTIONS["documents"].image is not None
    assert FUNCTIONS["documents"].image.handler == documents.HANDLER


def test_rendering_runs_in_the_documents_function_mail_in_the_worker() -> None:
    assert set(DOCUMENT_KINDS) == {"invoices.render", "invoices.send"}
    assert "invoices.mail" in JOB_KINDS and not set(DOCUMENT_KINDS) & set(JOB_KINDS)
    assert ROLES["documents"].send_email is False and ROLES["worker"].send_email is True
    assert "documents" in ROLES["api"].sends_to and ROLES["documents"].sends_to == ("jobs",)


def test_an_unknown_kind_fails_and_is_retried() -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    event = {
        "Records": [
            {
                "messageId": "m1",
                "receiptHandle": "r1",
                "body": '{"kind": "nope", "tenant_id": "t"}',
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:crm-documents",
                "awsRegion": "eu-central-1",
            }
        ]
    }
    # Powertools fails a batch whose every message failed (SQS then retries it, as for a partial failure).
    with pytest.raises(BatchProcessingError):
        documents.handle_batch(event)
