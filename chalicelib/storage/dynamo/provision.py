"""Create the table, bucket and queues from table_spec (tests, local stack).
On AWS the CloudFormation template does this from the same spec."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from chalicelib.config import get_settings
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import error_code
from chalicelib.storage.dynamo.table_spec import (
    QUEUES,
    dead_letter_name,
    stream_specification,
    table_definition,
    ttl_specification,
)


def create_resources() -> None:
    """Idempotent: what exists already is left as it is."""
    settings = get_settings()
    dynamodb = client("dynamodb")
    try:
        dynamodb.create_table(**table_definition(settings.table_name), StreamSpecification=stream_specification())
        dynamodb.get_waiter("table_exists").wait(
            TableName=settings.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        dynamodb.update_time_to_live(TableName=settings.table_name, TimeToLiveSpecification=ttl_specification())
    except ClientError as err:
        if error_code(err) != "ResourceInUseException":
            raise
    s3 = client("s3")
    try:
        if settings.region == "us-east-1":
            s3.create_bucket(Bucket=settings.bucket_name)
        else:
            s3.create_bucket(
                Bucket=settings.bucket_name, CreateBucketConfiguration={"LocationConstraint": settings.region}
            )
    except ClientError as err:
        if error_code(err) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    sqs = client("sqs")
    for logical, spec in QUEUES.items():
        name = settings.queue_name(logical)
        dlq_url = sqs.create_queue(
            QueueName=dead_letter_name(name), Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)}
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(spec["visibility_timeout"]),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(spec["max_receive_count"])}
                ),
            },
        )
    # SES sends only from verified senders (on AWS the operator verifies the domain).
    client("ses").verify_email_identity(EmailAddress=settings.mail_from)
