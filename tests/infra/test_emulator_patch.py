"""The moto DynamoDB adaptation (infra/emulator/dynamodb_patch.py) that the
local stack's emulator and this test suite load: transactions roll back from
an undo journal, items are not tracked for ever, ClientRequestToken makes a
retried transaction idempotent, queries read their partition. Asserted
through boto3 against in-process moto, and where it is about cost, by
counting what moto builds (never by timing)."""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

from infra.emulator import dynamodb_patch
from infra.emulator.dynamodb_patch import original

REGION = "eu-central-1"
TABLE = "patch-test"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gpk", "gsk")],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi",
                    "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [
                        {"AttributeName": "gpk", "KeyType": "HASH"},
                        {"AttributeName": "gsk", "KeyType": "RANGE"},
                    ],
                }
            ],
        )
        yield client


def backend() -> DynamoDBBackend:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]


def table() -> Table:
    return backend().get_table(TABLE)


def seed(count: int, partitions: int = 10) -> None:
    """Items straight into moto (seeding is not what is measured)."""
    for n in range(count):
        backend().put_item(
            TABLE,
            {
                "pk": {"S": f"P#{n % partitions}"},
                "sk": {"S": f"S#{n:06d}"},
                "n": {"N": str(n)},
                "gpk": {"S": f"G#{n % 3}"},
                "gsk": {"S": f"{n % 7}#{n:06d}"},
                "text": {"S": "x" * 40},
            },
        )


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def everything(client: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True):
        items += page["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def a_transaction(n: int) -> list[dict[str, Any]]:
    """Writes three existing items and adds one: what a record update with its index entries does."""
    return [
        {
            "Update": {
                "TableName": TABLE,
                "Key": key("P#1", "S#000001"),
                "UpdateExpression": "ADD n :one",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Put": {"TableName": TABLE, "Item": {**key("P#2", "S#000002"), "text": {"S": f"v{n}"}}}},
        {"Delete": {"TableName": TABLE, "Key": key("NEW", f"{n - 1}")}},
        {
            "Put": {
                "TableName": TABLE,
                "Item": {**key("NEW", f"{n}"), "n": {"N": str(n)}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {
            "ConditionCheck": {
                "TableName": TABLE,
                "Key": key("P#3", "S#000003"),
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
    ]


# --- the guard: the patch runs only on the moto it was written for -------------------


def test_the_patch_was_written_for_the_pinned_and_installed_moto() -> None:
    pinned = re.search(r"^moto\[[^\]]*\]==([\w.]+)$", (REPO_ROOT / "requirements-dev.txt").read_text(), re.M)
    assert pinned and pinned.group(1) == dynamodb_patch.MOTO_VERSION == moto.__version__


def test_the_moto_code_the_patch_replaces_or_relies_on_is_unchanged() -> None:
    changed = {
        name
        for name, digest in dynamodb_patch.source_hashes().items()
        if dynamodb_patch.RECORDED_SOURCES.get(name) != digest
    }
    assert not changed, (
        f"moto changed {sorted(changed)}: review infra/emulator/dynamodb_patch.py against the new code "
        "(maybe moto fixed it: then drop that part), then record the new hashes with "
        "`python -m infra.emulator.dynamodb_patch`"
    )
    assert set(dynamodb_patch.RECORDED_SOURCES) == set(dynamodb_patch.source_hashes())


def test_the_suite_runs_against_the_patched_moto() -> None:
    assert dynamodb_patch.installed()
    assert DynamoDBBackend.transact_write_items is dynamodb_patch.transact_write_items
    assert Table.query is dynamodb_patch.query


# --- memory and work stay flat ---------------------------------------------------------


class ItemCounter:
    """Counts the Items moto builds (deep copies included)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.built = 0
        untracked = Item.__new__

        def counting_new(cls: type, *args: Any, **kwargs: Any) -> Any:
            self.built += 1
            return untracked(cls, *args, **kwargs)

        monkeypatch.setattr(Item, "__new__", staticmethod(counting_new))


def items_built_per_transaction(client: Any, counter: ItemCounter, first: int, count: int) -> float:
    before = counter.built
    for n in range(first, first + count):
        client.transact_write_items(TransactItems=a_transaction(n))
    return (counter.built - before) / count


def test_a_transaction_builds_as_many_items_on_a_big_table_as_on_a_small_one(
    ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(10)
    counter = ItemCounter(monkeypatch)
    on_small = items_built_per_transaction(ddb, counter, 1, 20)
    seed(3000)
    on_big = items_built_per_transaction(ddb, counter, 21, 20)
    assert on_big == on_small < 10
    assert Item.instances_tracked == []  # type: ignore[attr-defined]


def test_moto_unpatched_copies_the_whole_table_per_item_so_the_count_above_can_fail(
    ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(500)
    counter = ItemCounter(monkeypatch)
    original("DynamoDBBackend.transact_write_items")(backend(), a_transaction(1))
    assert counter.built >= 5 * 500  # five operations, each a copy of the table


def test_memory_stays_flat_over_many_transactions_on_a_table_of_thousands(ddb: Any) -> None:
    seed(3000)
    for n in range(1, 51):  # warm up: caches, the token window, the NEW partition
        ddb.transact_write_items(TransactItems=a_transaction(n))
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        for n in range(51, 351):
            ddb.transact_write_items(TransactItems=a_transaction(n))
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # What may stay: each transaction's remembered ClientRequestToken (~0.3 KB) and
    # moto's caches. One leaked copy of the table would be ~1 MB per transaction.
    assert (end - start) / 300 < 4_000, f"grew {end - start} bytes"
    assert Item.instances_tracked == []  # type: ignore[attr-defined]
    assert len(table().items) == 11  # ten seeded partitions and NEW: no empty ones left behind
    assert len(table().items[DynamoType({"S": "NEW"})]) == 1


# --- transactions roll back from the journal --------------------------------------------


def test_a_cancelled_transaction_leaves_the_table_as_it_was(ddb: Any) -> None:
    seed(30)
    before = everything(ddb)
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**key("P#0", "S#000000"), "text": {"S": "overwritten"}}}},
                {"Put": {"TableName": TABLE, "Item": {**key("BRAND", "NEW"), "text": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": key("P#1", "S#000001"),
                        "UpdateExpression": "SET #t = :t ADD n :one",
                        "ExpressionAttributeNames": {"#t": "text"},
                        "ExpressionAttributeValues": {":t": {"S": "changed"}, ":one": {"N": "1"}},
                    }
                },
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": key("MISSING", "CREATED"),
                        "UpdateExpression": "SET a = :a",
                        "ExpressionAttributeValues": {":a": {"S": "a"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": key("P#2", "S#000002")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": key("P#3", "S#000003"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    error = raised.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None"] * 5 + ["ConditionalCheckFailed"]
    assert everything(ddb) == before
    assert DynamoType({"S": "BRAND"}) not in table().items and DynamoType({"S": "MISSING"}) not in table().items


def test_a_transaction_naming_one_item_twice_is_refused_and_undone(ddb: Any) -> None:
    seed(5)
    before = everything(ddb)
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**key("P#0", "S#000000"), "text": {"S": "first"}}}},
                {"Delete": {"TableName": TABLE, "Key": key("P#0", "S#000000")}},
            ]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert everything(ddb) == before


def test_a_successful_transaction_applies_every_write(ddb: Any) -> None:
    seed(5)
    ddb.transact_write_items(TransactItems=a_transaction(1))
    assert ddb.get_item(TableName=TABLE, Key=key("P#1", "S#000001"))["Item"]["n"] == {"N": "2"}
    assert ddb.get_item(TableName=TABLE, Key=key("P#2", "S#000002"))["Item"]["text"] == {"S": "v1"}
    assert ddb.get_item(TableName=TABLE, Key=key("NEW", "1"))["Item"]["n"] == {"N": "1"}


def test_a_cancelled_transaction_leaves_no_stream_records(ddb: Any) -> None:
    ddb.update_table(TableName=TABLE, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    seed(3)
    records = len(table().stream_shard.items)  # type: ignore[union-attr]
    with pytest.raises(ClientError):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": key("A", "1")}},
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": key("P#0", "S#000000"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert len(table().stream_shard.items) == records  # type: ignore[union-attr]
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": key("A", "1")}}])
    assert len(table().stream_shard.items) == records + 1  # type: ignore[union-attr]


# --- ClientRequestToken -------------------------------------------------------------------


def counter_transaction(amount: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "Update": {
                "TableName": TABLE,
                "Key": key("COUNTER", "C"),
                "UpdateExpression": "ADD n :v",
                "ExpressionAttributeValues": {":v": {"N": str(amount)}},
            }
        },
        {"Put": {"TableName": TABLE, "Item": key("ONCE", "O"), "ConditionExpression": "attribute_not_exists(pk)"}},
    ]


def counter(client: Any) -> int:
    return int(client.get_item(TableName=TABLE, Key=key("COUNTER", "C"))["Item"]["n"]["N"])


def test_a_retried_transaction_with_its_token_succeeds_once(ddb: Any) -> None:
    ddb.transact_write_items(TransactItems=counter_transaction(), ClientRequestToken="token-1")
    ddb.transact_write_items(TransactItems=counter_transaction(), ClientRequestToken="token-1")  # the retry
    assert counter(ddb) == 1
    with pytest.raises(ClientError) as raised:  # without the token it is a new request: the Put's condition fails
        ddb.transact_write_items(TransactItems=counter_transaction(), ClientRequestToken="token-2")
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert counter(ddb) == 1


def test_a_token_reused_for_another_request_is_a_mismatch(ddb: Any) -> None:
    ddb.transact_write_items(TransactItems=counter_transaction(1), ClientRequestToken="token-1")
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=counter_transaction(5), ClientRequestToken="token-1")
    assert raised.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert counter(ddb) == 1


def test_a_token_is_forgotten_ten_minutes_after_its_success(ddb: Any) -> None:
    now = [1000.0]
    tokens = dynamodb_patch.tokens_of(backend())
    tokens.clock = lambda: now[0]
    ddb.transact_write_items(TransactItems=counter_transaction(), ClientRequestToken="token-1")
    now[0] += 599
    ddb.transact_write_items(TransactItems=counter_transaction(), ClientRequestToken="token-1")
    assert counter(ddb) == 1
    now[0] += 2
    ddb.delete_item(TableName=TABLE, Key=key("ONCE", "O"))
    ddb.transact_write_items(TransactItems=counter_transaction(), ClientRequestToken="token-1")
    assert counter(ddb) == 2
    assert len(tokens) == 1


def test_a_cancelled_transaction_runs_again_when_retried_with_its_token(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item=key("ONCE", "O"))
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=counter_transaction(), ClientRequestToken="token-1")
    ddb.delete_item(TableName=TABLE, Key=key("ONCE", "O"))
    ddb.transact_write_items(TransactItems=counter_transaction(), ClientRequestToken="token-1")
    assert counter(ddb) == 1


# --- queries read their partition; reads create nothing -------------------------------------


def query_both_ways(
    hash_value: str | None,
    range_comparison: str | None,
    range_values: list[str],
    *,
    index: str | None = None,
    limit: int | None = None,
    forward: bool = True,
    start: dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    args = (
        DynamoType({"S": hash_value}) if hash_value else None,
        range_comparison,
        [DynamoType({"S": v}) for v in range_values],
        limit,
        start,
        forward,
        None,
        index,
    )
    conditions: dict[str, Any] = {}
    if index:
        conditions["hash_key_conditions"] = [("gpk", DynamoType({"S": hash_value}))]
        if range_comparison:
            conditions["range_key_conditions"] = [("gsk", range_comparison, args[2])]
    patched = table().query(*args, **conditions)
    unpatched = original("Table.query")(table(), *args, **conditions)
    as_json = lambda answer: ([i.to_json() for i in answer[0]], answer[1], answer[2])  # noqa: E731
    return as_json(patched), as_json(unpatched)


@pytest.mark.parametrize(
    "case",
    [
        dict(hash_value="P#3", range_comparison=None, range_values=[]),
        dict(hash_value="P#3", range_comparison="BEGINS_WITH", range_values=["S#0001"]),
        dict(hash_value="P#4", range_comparison="BETWEEN", range_values=["S#000050", "S#000150"], forward=False),
        dict(hash_value="P#4", range_comparison=">=", range_values=["S#000100"], limit=3),
        dict(
            hash_value="P#4",
            range_comparison=None,
            range_values=[],
            limit=4,
            start={"pk": {"S": "P#4"}, "sk": {"S": "S#000064"}},
        ),
        dict(hash_value="NOPE", range_comparison=None, range_values=[]),
        dict(hash_value="G#1", range_comparison="BEGINS_WITH", range_values=["2#"], index="gsi"),
        dict(hash_value="G#2", range_comparison=None, range_values=[], index="gsi", limit=5, forward=False),
    ],
)
def test_queries_answer_what_moto_answered(ddb: Any, case: dict[str, Any]) -> None:
    seed(200)
    patched, unpatched = query_both_ways(**case)
    assert patched == unpatched
    assert patched[0] or case["hash_value"] == "NOPE"


def test_reading_a_missing_partition_does_not_create_it(ddb: Any) -> None:
    seed(5)
    partitions = len(table().items)
    assert "Item" not in ddb.get_item(TableName=TABLE, Key=key("NOBODY", "X"))
    ddb.transact_write_items(
        TransactItems=[
            {
                "ConditionCheck": {
                    "TableName": TABLE,
                    "Key": key("NOBODY", "Y"),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
    )
    assert len(table().items) == partitions


# --- answers carrying items are plain JSON; update expressions and sizes checked as before -----

RICH = {
    **key("R", "1"),
    "s": {"S": "Müller"},
    "n": {"N": "12.5"},
    "b": {"B": b"\x00\xff"},
    "ss": {"SS": ["x", "y"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b"\x01"]},
    "t": {"BOOL": True},
    "nul": {"NULL": True},
    "m": {"M": {"inner": {"B": b"\x03"}, "l": {"L": [{"S": "a"}, {"N": "1"}]}}},
}


def same(item: dict[str, Any]) -> dict[str, Any]:
    """Sets come back in any order."""
    return {
        name: {kind: sorted(inner) if kind in ("SS", "NS", "BS") else inner for kind, inner in value.items()}
        for name, value in item.items()
    }


def test_every_answer_carrying_items_gives_them_back_as_written(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item=RICH)
    answers = [
        ddb.get_item(TableName=TABLE, Key=key("R", "1"))["Item"],
        ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "R"}})[
            "Items"
        ][0],
        ddb.scan(TableName=TABLE)["Items"][0],
        ddb.batch_get_item(RequestItems={TABLE: {"Keys": [key("R", "1")]}})["Responses"][TABLE][0],
        ddb.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": key("R", "1")}}])["Responses"][0][
            "Item"
        ],
    ]
    assert [same(answer) for answer in answers] == [same(RICH)] * 5
    page = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        Limit=1,
        Select="COUNT",
        ExpressionAttributeValues={":p": {"S": "R"}},
    )
    assert (page["Count"], page["ScannedCount"]) == (1, 1)


def test_one_update_expression_text_runs_with_each_requests_values(ddb: Any) -> None:
    for n in range(3):
        ddb.update_item(
            TableName=TABLE,
            Key=key("U", "1"),
            UpdateExpression="SET v = :v ADD c :one",
            ExpressionAttributeValues={":v": {"S": f"value {n}"}, ":one": {"N": "1"}},
        )
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": key("U", "2"),
                        "UpdateExpression": "SET v = :v ADD c :one",
                        "ExpressionAttributeValues": {":v": {"S": f"other {n}"}, ":one": {"N": "2"}},
                    }
                }
            ]
        )
    first, second = (ddb.get_item(TableName=TABLE, Key=key("U", sk))["Item"] for sk in ("1", "2"))
    assert (first["v"], first["c"], second["v"], second["c"]) == (
        {"S": "value 2"},
        {"N": "3"},
        {"S": "other 2"},
        {"N": "6"},
    )


@pytest.mark.parametrize(
    "expression",
    [
        "SET a = :a, a = :b",  # one path twice in a clause
        "SET a = :a REMOVE a",  # one path in two clauses
        "SET a = :a SET b = :b",  # two SET clauses
        "REMOVE a ADD c :a REMOVE b",  # two REMOVE clauses around another
        "SET m.x = :a, m = :b",  # overlapping paths
    ],
)
def test_update_expressions_moto_refused_are_still_refused(ddb: Any, expression: str) -> None:
    values = {name: {"N": "1"} for name in (":a", ":b") if name in expression}  # an unused one is refused too
    with pytest.raises(ClientError) as raised:
        ddb.update_item(
            TableName=TABLE, Key=key("U", "1"), UpdateExpression=expression, ExpressionAttributeValues=values
        )
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "unused" not in error["Message"]


def test_an_update_of_many_attributes_in_one_clause_is_accepted(ddb: Any) -> None:
    expression = "SET " + ", ".join(f"a{n} = :v" for n in range(20)) + " REMOVE " + ", ".join(f"r{n}" for n in range(8))
    ddb.update_item(
        TableName=TABLE, Key=key("U", "1"), UpdateExpression=expression, ExpressionAttributeValues={":v": {"S": "x"}}
    )
    assert len(ddb.get_item(TableName=TABLE, Key=key("U", "1"))["Item"]) == 22


def test_items_over_the_size_limit_are_refused_and_those_under_it_kept(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item={**key("BIG", "1"), "a": {"S": "x" * 200_000}, "b": {"S": "y" * 200_000}})
    with pytest.raises(ClientError) as raised:
        ddb.put_item(
            TableName=TABLE,
            Item={**key("BIG", "2"), "a": {"S": "x" * 200_000}, "b": {"S": "y" * 200_000}, "c": {"S": "z" * 10_000}},
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Item" not in ddb.get_item(TableName=TABLE, Key=key("BIG", "2"))


def test_binary_values_are_decoded_wherever_they_are_and_only_there(ddb: Any) -> None:
    item = {
        **key("BIN", "1"),
        "B": {"S": "an attribute named B"},
        "BS": {"BS": [b"\x01", b"\x02"]},
        "m": {"M": {"B": {"B": b"\x03"}, "BS": {"SS": ["named BS"]}}},
        "l": {"L": [{"B": b"\x04"}]},
    }
    ddb.put_item(TableName=TABLE, Item=item)
    assert same(ddb.get_item(TableName=TABLE, Key=key("BIN", "1"))["Item"]) == same(item)
    ddb.update_item(
        TableName=TABLE,
        Key=key("BIN", "1"),
        UpdateExpression="SET extra = :b",
        ConditionExpression="m.#b = :three",
        ExpressionAttributeNames={"#b": "B"},
        ExpressionAttributeValues={":b": {"B": b"\x05"}, ":three": {"B": b"\x03"}},
    )
    assert ddb.get_item(TableName=TABLE, Key=key("BIN", "1"))["Item"]["extra"] == {"B": b"\x05"}
    with pytest.raises(ClientError):
        ddb.put_item(
            TableName=TABLE,
            Item=item,
            ConditionExpression="m.#b = :other",
            ExpressionAttributeNames={"#b": "B"},
            ExpressionAttributeValues={":other": {"B": b"\x09"}},
        )
