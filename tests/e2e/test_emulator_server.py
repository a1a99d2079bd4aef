"""The local stack's emulator beyond the DynamoDB patch (infra/emulator/server.py,
tables.py): tables saved to a file and loaded back as they were, received
messages released for the final snapshot, the bookkeeping requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from werkzeug.test import Client

from infra.emulator.server import EmulatorApp, release_received_messages, trim_stream
from infra.emulator.tables import TableFiles

REGION = "eu-central-1"
ITEMS = [
    {
        "pk": {"S": "A"},
        "sk": {"S": "1"},
        "s": {"S": "Müller"},
        "n": {"N": "12.50"},
        "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2"]},
        "bs": {"BS": [b"\x01", b"\x02"]},
        "bool": {"BOOL": False},
        "null": {"NULL": True},
        "m": {"M": {"inner": {"B": b"\x03"}, "list": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"deep": {"BOOL": True}}}]}}},
    },
    {"pk": {"S": "A"}, "sk": {"S": "2"}, "empty": {"L": []}},
    {"pk": {"S": "B"}, "sk": {"S": "1"}},
]


def make_table(client: Any) -> None:
    client.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )


def table() -> Any:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table("t")


def everything(client: Any) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName="t", ConsistentRead=True)["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def test_a_table_saved_to_a_file_loads_back_as_it_was(tmp_path: Path) -> None:
    lock = threading.Lock()
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        make_table(client)
        for item in ITEMS:
            client.put_item(TableName="t", Item=item)
        before = everything(client)
        files = TableFiles(tmp_path)
        assert files.save(table(), "t.json", lock) == {"items": 3, "written": True}
        assert files.save(table(), "t.json", lock) == {"items": 3, "written": False}  # unchanged: not rewritten
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        make_table(client)
        assert TableFiles(tmp_path).load(table(), "t.json", lock) == 3
        assert everything(client) == before
        # Loaded items behave as written ones: conditions, updates, queries.
        client.update_item(
            TableName="t",
            Key={"pk": {"S": "A"}, "sk": {"S": "1"}},
            UpdateExpression="ADD n :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        assert client.get_item(TableName="t", Key={"pk": {"S": "A"}, "sk": {"S": "1"}})["Item"]["n"] == {"N": "13.50"}
        assert (
            client.query(TableName="t", KeyConditionExpression="pk = :a", ExpressionAttributeValues={":a": {"S": "A"}})[
                "Count"
            ]
            == 2
        )
        assert TableFiles(tmp_path).save(table(), "t.json", lock)["written"] is True  # changed: rewritten
        saved = json.loads((tmp_path / "t.json").read_text())
        assert saved["items"][0]["n"] == {"N": "13.50"}
        assert [item["pk"]["S"] + item["sk"]["S"] for item in saved["items"]] == ["A1", "A2", "B1"]
        assert saved["items"][0]["b"] == {"B": "AP8="} and saved["items"][0]["m"]["M"]["inner"] == {"B": "Aw=="}


def test_messages_received_and_not_deleted_are_released_for_the_snapshot() -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="taken")
        sqs.send_message(QueueUrl=url, MessageBody="waiting")
        taken = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=600)["Messages"]
        assert [m["Body"] for m in taken] == ["taken"]
        assert release_received_messages() == 1
        bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
        assert sorted(bodies) == ["taken", "waiting"]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[EmulatorApp, list[str]]]:
    seen: list[str] = []

    def moto(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ.get("HTTP_X_AMZ_TARGET", ""))
        start_response("200 OK", [])
        return [b"{}"]

    yield EmulatorApp(moto, tmp_path), seen


def test_dynamodb_writes_are_counted_and_everything_else_goes_to_moto(app: tuple[EmulatorApp, list[str]]) -> None:
    emulator, seen = app
    client = Client(emulator)
    for target in (
        "DynamoDB_20120810.PutItem",
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.TransactWriteItems",
        "AmazonSQS.ReceiveMessage",
    ):
        client.post("/", headers={"X-Amz-Target": target})
    assert len(seen) == 4
    assert client.get("/_crm/dynamodb/writes").json == {"writes": 2}


def test_stream_reads_wait_for_a_dynamodb_write_in_progress(app: tuple[EmulatorApp, list[str]]) -> None:
    """A transaction's stream records exist until it is undone: a reader waits its turn (webhooks)."""
    emulator, seen = app
    client = Client(emulator)
    with emulator._dynamodb:  # a write holds the turn
        reader = threading.Thread(
            target=lambda: client.post("/", headers={"X-Amz-Target": "DynamoDBStreams_20120810.GetRecords"})
        )
        reader.start()
        reader.join(timeout=0.5)
        assert reader.is_alive() and seen == [], "the stream read waits"
    reader.join(timeout=5)
    assert seen == ["DynamoDBStreams_20120810.GetRecords"]
    assert client.get("/_crm/dynamodb/writes").json == {"writes": 0}, "a read is not a write"


def test_bookkeeping_requests_refuse_what_they_do_not_know(app: tuple[EmulatorApp, list[str]]) -> None:
    client = Client(app[0])
    assert client.get("/_crm/nothing").status_code == 404
    assert client.post("/_crm/dynamodb/save?region=eu-central-1&table=t&file=../escape.json").status_code == 400
    assert client.post("/_crm/dynamodb/save?region=eu-central-1&table=t&file=x.txt").status_code == 400
    assert app[1] == []


def test_trimming_the_stream_forgets_what_was_read_and_keeps_the_numbers_of_the_rest() -> None:
    """moto keeps every stream record and iterator; the pump has it forget those it is done with (webhooks)."""
    from botocore.config import Config

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName="s",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        streams = boto3.client(
            "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
        )
        arn = ddb.describe_table(TableName="s")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        for n in range(3):
            ddb.put_item(TableName="s", Item={"pk": {"S": f"k{n}"}})
        start = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        read = streams.get_records(ShardIterator=start["ShardIterator"])["Records"]
        numbers = [r["dynamodb"]["SequenceNumber"] for r in read]
        table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table("s")

        assert trim_stream(table, int(numbers[1]), REGION) == 2
        assert len(table.stream_shard.items) == 1
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        assert dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][REGION].shard_iterators == {}, "old iterators forgotten"
        ddb.put_item(TableName="s", Item={"pk": {"S": "k3"}})
        after = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=numbers[1]
        )
        rest = streams.get_records(ShardIterator=after["ShardIterator"])["Records"]
        assert [r["dynamodb"]["SequenceNumber"] for r in rest] == [numbers[2], str(int(numbers[2]) + 1)]
        assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in rest] == ["k2", "k3"]
        oldest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        assert (
            streams.get_records(ShardIterator=oldest["ShardIterator"])["Records"][0]["dynamodb"]["SequenceNumber"]
            == numbers[2]
        )
