"""The resources, defined once: used by tests, the local stack and infra/aws.

One DynamoDB table (single-table design, on-demand), one S3 bucket, and the
SQS queues each with a dead-letter queue.
"""

from __future__ import annotations

from typing import Any

PK, SK = "pk", "sk"
TTL_ATTRIBUTE = "ttl"

# Generic, overloaded indexes; keys.py says which access pattern uses which.
GSI1, GSI2, GSI3 = "gsi1", "gsi2", "gsi3"
# Time-bucketed index across tenants for scheduled work (expiry, reminders):
# a schedule run reads only the items that fall due, never the whole table.
SCHEDULE_INDEX = "schedule"

_INDEX_KEYS: dict[str, tuple[str, str]] = {
    GSI1: ("gsi1pk", "gsi1sk"),
    GSI2: ("gsi2pk", "gsi2sk"),
    GSI3: ("gsi3pk", "gsi3sk"),
    SCHEDULE_INDEX: ("sched_pk", "sched_sk"),
}


def index_keys(index: str | None) -> tuple[str, str]:
    return (PK, SK) if index is None else _INDEX_KEYS[index]


def table_definition(table_name: str) -> dict[str, Any]:
    """Arguments for DynamoDB CreateTable (boto3 and CloudFormation share them)."""
    attributes = {PK, SK} | {name for pair in _INDEX_KEYS.values() for name in pair}
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in sorted(attributes)],
        "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": [{"AttributeName": hk, "KeyType": "HASH"}, {"AttributeName": rk, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (hk, rk) in _INDEX_KEYS.items()
        ],
    }


# Logical queue name -> settings. Real names are Settings.queue_name(logical).
QUEUES: dict[str, dict[str, Any]] = {
    "jobs": {"visibility_timeout": 120, "max_receive_count": 5},
    # CSV import chunks (IMP-2): their own queue and function; a chunk stops before its time runs out.
    "imports": {"visibility_timeout": 300, "max_receive_count": 5},
    # Rendering and sending invoices (the documents function; 120 s timeout there).
    "documents": {"visibility_timeout": 120, "max_receive_count": 3},
    # Twilio's status and recording callbacks (VOIP-7, 8): their own queue and
    # function, so a burst of calls never waits behind a bulk job (or the reverse).
    "calls": {"visibility_timeout": 360, "max_receive_count": 5},
    # SES bounce and complaint events (SNS -> SQS) for the mailing suppression list (ADM-2).
    "bounces": {"visibility_timeout": 180, "max_receive_count": 5},
}


def dead_letter_name(queue_name: str) -> str:
    return f"{queue_name}-dlq"


# Webhooks read every committed write from the table's stream (issue 18): the
# template's table has it, the local stack's and the tests' tables too.
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


def stream_specification() -> dict[str, Any]:
    """CreateTable's StreamSpecification (CloudFormation's has no StreamEnabled)."""
    return {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE}


def ttl_specification() -> dict[str, Any]:
    return {"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
