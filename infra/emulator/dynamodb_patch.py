"""moto's DynamoDB, adapted so that its cost follows the data a request
touches, not the size of the table. ``install()`` applies it (idempotent);
the local stack's emulator process and the test suite both call it.

What moto 5.2.5 does, and what changes here (each piece is small enough to be
offered upstream as it is):

1. ``TransactWriteItems`` deep-copied every table it touches, once per item
   of the transaction, to roll back on failure: a 10-item transaction on a
   table of 50,000 items copied 500,000 items. Here the transaction keeps an
   undo journal of the items it writes (their state before) and puts those
   back on failure; stream records it emitted are dropped too.
2. Every ``Item`` moto creates, deep copies of query results included, was
   appended to the class-level ``BaseModel.instances_tracked`` list that only
   ``mock_aws`` empties (for the /moto-api dashboard): a moto server never
   freed one. Items are not tracked here; the dashboard lists no DynamoDB
   items (the table itself still does, through Scan).
3. ``ClientRequestToken`` was ignored, so a retried transaction (botocore
   retries with the same token after a timeout) ran twice, and its second run
   failed its own "must not exist" conditions. Here a token is remembered for
   10 minutes after its transaction succeeded, as on AWS: the same token with
   the same items succeeds without running again; with other items it is an
   ``IdempotentParameterMismatchException``.
4. A Query on the base table sorted every item of the table to find one
   partition, and a Query on an index sorted them all before filtering (then
   sorted the matches again). Here the base table's Query reads its
   partition only, and an index Query filters the unsorted items. (Index
   queries stay linear in the table; moto keeps no index structures.)
5. ``GetItem`` (and every write's condition check) on a partition that does
   not exist created an empty partition that stayed for ever. Not here.
6. Answers carrying items (GetItem, BatchGetItem, Query, Scan,
   TransactGetItems) went through moto's shape-driven response serializer,
   which walks all ten members of every AttributeValue: about 5 ms per item,
   so a 1 MB Scan page took seconds. They are in the wire format already
   (moto's ``dynamo_to_dict``), so here they are written with
   ``dynamo_json_dump``, as moto 4 did.
7. An UpdateExpression was parsed twice per update (to check the request,
   then to run it), a record's 20-action expression every time. Parsing
   depends on the text only and every caller only reads the tree (the
   validator works on a deep copy), so parses are cached by text.
8. Two validators (one SET/REMOVE/ADD clause each; no path updated twice)
   ran at every node of the tree, because every clause, action and path
   node is an ``UpdateExpression`` subclass, each time collecting its whole
   subtree: quadratic in the number of actions (a record update setting 20
   attributes spent half its time there). Here they run where a clause can
   repeat: at the ``UpdateExpression`` nodes. The same expressions fail,
   with the same error; only an expression with several overlapping paths
   may name another pair of them.
9. Building an Item checked the 400 KB limit after each attribute by
   summing the sizes of all attributes so far: quadratic in the number of
   attributes, a fifth of the emulator's time on records with details.
   Here the running total is kept: the same items are refused at the same
   attribute.
10. Requests went through moto's shape-driven parser, which walks every
   member of every AttributeValue of the request only to base64-decode the
   binary ones: a tenth of the emulator's time on 15-operation
   transactions. Here the JSON body is decoded binary values and all.
11. The update-expression validators rebuilt their processing map (a dict
   of bound methods) at every node they visited, twice. Here each builds it
   once.

The moto functions replaced, wrapped or relied on are listed with a hash of
their source in ``RECORDED_SOURCES``; tests/infra/test_emulator_patch.py fails when
a moto upgrade changes any of them, so the patch is reviewed again before it
runs on new code. No moto option turns any of this off, and moto 5.2.5 is
the newest release (its faster Item.__deepcopy__ makes item 1 cheaper per
item, not proportional to the transaction).
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import inspect
import json
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import moto
from moto.core.common_models import BaseModel
from moto.core.parse import BaseJSONParser
from moto.core.responses import ActionResult, BaseResponse
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    DynamodbException,
    ItemSizeTooLarge,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodb.models.utilities import bytesize, dynamo_json_dump
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, UpdateExpression
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.dynamodb.parsing.validators import ActionCountValidator, OverlappingPathsValidator
from moto.dynamodb.responses import DynamoHandler, DynamoResult

MOTO_VERSION = "5.2.5"
TOKEN_WINDOW_SECONDS = 600

# The moto code this adaptation replaces, wraps or mirrors, with the SHA-256
# of its source in MOTO_VERSION. tests/infra/test_emulator_patch.py compares them:
# after a moto upgrade, review the patch against the new code, then record
# the new hashes (`python -m infra.emulator.dynamodb_patch`).
RECORDED_SOURCES: dict[str, str] = {
    "DynamoDBBackend.transact_write_items": "81db2cb7d94e39c90b3a2077e1f4bb41a449c558ef9b1b1e2910fdaa39978ad4",
    "DynamoHandler.transact_write_items": "61c163fff213f33a39317a17fda194a9c1e800992421575d2080f4500bf45372",
    "Table.query": "002b4d00be6df07cf37f6cbe0132e5eb89455ae12a8e79b23db3fb492450f21e",
    "Table.get_item": "b08e98fe37b7e5836afe03b010d637ef50df5dea6cbecd9cf8816eef326a21cd",
    "DynamoHandler.get_item": "e84cc4b607a62aa358eff219939f1c120e0d0b86b0aff1e138427b0496083378",
    "DynamoHandler.batch_get_item": "680c9cb275660ea48dfc9388ea3969694e85652b44c7449fffac9515c79408a5",
    "DynamoHandler.query": "681834c64038af93f0bf17657b7d24065f907f31e2d5cafb67f8cc15bb5e9f96",
    "DynamoHandler.scan": "530223d9fd284f2be3f3ed302ad8eab62f3fbe2cbeecd56a4ce4c7e1f006db05",
    "DynamoHandler.transact_get_items": "6275dc506a3f7c6bb1a4820d4fd518a36edd6c2b6536a31b2e1493fa3b303052",
    "DynamoResult.__init__": "e2394775cd5ef6ad00a9de7afdea2b54f753ea2dfcb11ecabe1acc80497cda35",
    "UpdateExpressionParser.make": "2c00ed96d6e191f243b449166e75bfb38f307b2e19405bc0981847061e0dbee3",
    "ActionCountValidator.verify_action_counts": "8cd8c9a3ae3a414abe39794eb3b5097b64b580b9dee258da242d2c03cf91c293",
    "OverlappingPathsValidator.check_for_overlapping_paths": "2488117d3c3a1f22b817ce11bb446912002fcda1dfbb6956234f91619ede5692",  # noqa: E501 (a hash)
    "BaseResponse.parse_parameters": "fd3d04c9194814f4f8dd755aa8eedae7155fbef66a1421cb934be8ce8f2c7b59",
    "BaseJSONParser._parse_structure": "2de165721ba4b69e183647dca9c845d553a6f077c004007ad676cec8f2b581dd",
    "DepthFirstTraverser.nodes_to_be_processed": "1c2c84c8097e35172d289d2cc30029d2d1c518f7680232a3f3c9f09e56a5e9b0",
    "DepthFirstTraverser.process": "58328ec7c2f9b1f96244bf498dd0ca6d91e2fd83ea57a82f6190997b8d1f9d51",
    "Item.__init__": "d9c12b62cb921831aab9b2eb22ac24fbd600689064a0219ae3ffbe057ae4be74",
    "LimitedSizeDict.__setitem__": "d979580fdbe14f79f3216564e1385c4b3485db82bc88193326c467a037331e81",
    "BaseModel.__new__": "08cf0ef20e88029a2eb91949492ce3281001a34b98143db186239962ad379eec",
    "Item.__deepcopy__": "7621d16ad7ce49d93f1da0ff2a799ec0ca57b34d30249ef65bc2557c2acc5168",
    "Table.all_items": "c80d2ee3c896acd0cab6ca35aaeae3ab3fb65858933f8a3403d4e027c240f31d",
    "Table.put_item": "de23933013ef842639046c19bcf7e418bce0474d810f6719368be4cedce11d47",
    "Table.delete_item": "1594f7b07616c8cb8cdf0fbf58d6f54eeac83f25d7ac7b14e832a08e10efd8f9",
    "StreamShard.add": "357dc6da267e5dd7d46e18ee25d14b232a98679677906a2f02e4d454d1f11e03",
}
# DynamoHandler methods whose answers carry items (6.).
ITEM_ANSWERS = ("get_item", "batch_get_item", "query", "scan", "transact_get_items")
_ORIGINAL: dict[str, Callable[..., Any]] = {}
_lock = threading.Lock()


def install() -> None:
    """Apply the adaptation to the imported moto (once per process)."""
    with _lock:
        if _ORIGINAL:
            return
        if moto.__version__ != MOTO_VERSION:
            warnings.warn(
                f"infra.emulator.dynamodb_patch was written for moto {MOTO_VERSION}, "
                f"not {moto.__version__}: run tests/infra/test_emulator_patch.py",
                stacklevel=2,
            )
        _ORIGINAL.update(
            {
                "DynamoDBBackend.transact_write_items": DynamoDBBackend.transact_write_items,
                "DynamoHandler.transact_write_items": DynamoHandler.transact_write_items,
                "Table.query": Table.query,
                "Table.get_item": Table.get_item,
                **{f"DynamoHandler.{name}": getattr(DynamoHandler, name) for name in ITEM_ANSWERS},
                "UpdateExpressionParser.make": UpdateExpressionParser.make,
                "ActionCountValidator.verify_action_counts": ActionCountValidator.verify_action_counts,
                "OverlappingPathsValidator.check_for_overlapping_paths": OverlappingPathsValidator.check_for_overlapping_paths,  # noqa: E501
                "Item.__init__": Item.__init__,
                "DepthFirstTraverser.nodes_to_be_processed": DepthFirstTraverser.nodes_to_be_processed,
                "DepthFirstTraverser.process": DepthFirstTraverser.process,
            }
        )
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        DynamoHandler.transact_write_items = transact_write_items_response  # type: ignore[method-assign]
        Item.__new__ = staticmethod(_untracked_new)  # type: ignore[assignment]
        Item.instances_tracked.clear()  # type: ignore[attr-defined]
        Table.query = query  # type: ignore[method-assign]
        Table.get_item = get_item  # type: ignore[method-assign]
        for name in ITEM_ANSWERS:
            setattr(DynamoHandler, name, _answered_as_json(_ORIGINAL[f"DynamoHandler.{name}"]))
        Item.__init__ = item_init  # type: ignore[method-assign]
        DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign]
        DepthFirstTraverser.nodes_to_be_processed = _nodes_to_be_processed  # type: ignore[method-assign]
        DepthFirstTraverser.process = _process  # type: ignore[method-assign]
        UpdateExpressionParser.make = classmethod(_cached_parse)  # type: ignore[method-assign, assignment]
        ActionCountValidator.verify_action_counts = _at_expression_nodes(  # type: ignore[method-assign]
            _ORIGINAL["ActionCountValidator.verify_action_counts"]
        )
        OverlappingPathsValidator.check_for_overlapping_paths = _at_expression_nodes(  # type: ignore[method-assign]
            _ORIGINAL["OverlappingPathsValidator.check_for_overlapping_paths"]
        )


def installed() -> bool:
    return bool(_ORIGINAL)


def original(name: str) -> Callable[..., Any]:
    """moto's own function (e.g. "Table.query"), for tests that compare with it."""
    return _ORIGINAL[name]


def moto_sources() -> dict[str, str]:
    """The source of each moto function in RECORDED_SOURCES, as moto has it."""
    mirrored: dict[str, Any] = {
        # Rewritten here (the journal) or wrapped (the token check, the query view, get_item).
        "DynamoDBBackend.transact_write_items": DynamoDBBackend.transact_write_items,
        "DynamoHandler.transact_write_items": DynamoHandler.transact_write_items,
        "Table.query": Table.query,
        "Table.get_item": Table.get_item,
        **{f"DynamoHandler.{name}": getattr(DynamoHandler, name) for name in ITEM_ANSWERS},
        "DynamoResult.__init__": DynamoResult.__init__,
        "UpdateExpressionParser.make": UpdateExpressionParser.make,
        "ActionCountValidator.verify_action_counts": ActionCountValidator.verify_action_counts,
        "OverlappingPathsValidator.check_for_overlapping_paths": OverlappingPathsValidator.check_for_overlapping_paths,
        # DynamoHandler.parse_parameters is BaseResponse's, and moto's JSON parser what it mirrors.
        "BaseResponse.parse_parameters": BaseResponse.parse_parameters,
        "BaseJSONParser._parse_structure": BaseJSONParser._parse_structure,
        "DepthFirstTraverser.nodes_to_be_processed": DepthFirstTraverser.nodes_to_be_processed,
        "DepthFirstTraverser.process": DepthFirstTraverser.process,
        # Item.__init__ is replaced; the limit and its arithmetic are LimitedSizeDict's.
        "Item.__init__": Item.__init__,
        "LimitedSizeDict.__setitem__": LimitedSizeDict.__setitem__,
        # Replaced for Item only (untracked); Item.__deepcopy__ must keep calling __new__.
        "BaseModel.__new__": BaseModel.__new__,
        "Item.__deepcopy__": Item.__deepcopy__,
        # The layout of Table.items and stream records that the journal and the query view rely on.
        "Table.all_items": Table.all_items,
        "Table.put_item": Table.put_item,
        "Table.delete_item": Table.delete_item,
        "StreamShard.add": StreamShard.add,
    }
    return {name: inspect.getsource(_ORIGINAL.get(name, function)) for name, function in mirrored.items()}


def source_hashes() -> dict[str, str]:
    return {name: hashlib.sha256(source.encode()).hexdigest() for name, source in moto_sources().items()}


# --- 2. items are not tracked ------------------------------------------------


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    # BaseModel.__new__ without the append to cls.instances_tracked.
    return object.__new__(cls)


# --- 1. transactions with an undo journal -------------------------------------


class UndoJournal:
    """The items a transaction writes, as they were before, to put back if it
    is cancelled. One entry per item: a transaction touches an item once."""

    def __init__(self) -> None:
        self._before: list[tuple[Table, DynamoType, DynamoType | None, Item | None]] = []
        self._streams: dict[int, tuple[Any, list[Any], int]] = {}

    def __len__(self) -> int:
        return len(self._before)

    def remember(self, table: Table, hash_key: DynamoType, range_key: DynamoType | None, item: Item | None) -> None:
        shard = table.stream_shard
        if shard is not None and id(table) not in self._streams:
            self._streams[id(table)] = (shard, shard.items, len(shard.items))
        self._before.append((table, hash_key, range_key, item))

    def undo(self) -> None:
        for table, hash_key, range_key, item in reversed(self._before):
            _restore(table, hash_key, range_key, item)
        for shard, records, length in self._streams.values():
            # Unless a Lambda event source mapping took (and cleared) them already.
            if shard.items is records:
                del records[length:]
        self._before.clear()
        self._streams.clear()


def _restore(table: Table, hash_key: DynamoType, range_key: DynamoType | None, item: Item | None) -> None:
    """Puts ``item`` back under its key (None: no item), bypassing conditions
    and stream records: the state before the transaction, not a new write."""
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
        return
    if item is not None:
        table.items[hash_key][range_key] = item
        return
    partition = table.items.get(hash_key)
    if partition is not None:
        partition.pop(range_key, None)
        if not partition:
            del table.items[hash_key]


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems, rolled back by an undo journal instead of a
    copy of every table per item. Same checks, same cancellation reasons."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    journal = UndoJournal()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    try:
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(item.keys())) > 1:
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")

                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                expression_attribute_names = op.get("ExpressionAttributeNames")
                expression_attribute_values = op.get("ExpressionAttributeValues")
                return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

                table = self.get_table(table_name)
                if op_type == "Put":
                    attrs = op["Item"]
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]

                check_unicity(table_name, key)

                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition_op = get_filter_expression(
                        condition_expression, expression_attribute_names, expression_attribute_values
                    )
                    if not condition_op.expr(current):
                        if return_values_on_condition_check_failure == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)

                if op_type == "ConditionCheck":
                    errors.append((None, None, None))
                    continue
                hash_key, range_key = self.get_keys_value(table, key)
                # Put and Delete replace the stored Item; Update changes it in place.
                journal.remember(table, hash_key, range_key, copy.deepcopy(current) if op_type == "Update" else current)
                if op_type == "Put":
                    self.put_item(
                        table_name,
                        op["Item"],
                        condition_expression=condition_expression,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name,
                        key,
                        condition_expression=condition_expression,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                else:
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        condition_expression=condition_expression,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                raise
            except ConditionalCheckFailed as e:
                errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
            except Exception as e:  # noqa: BLE001 - moto reports every other failure as a reason
                errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]
    except BaseException:
        journal.undo()
        raise
    if any(code is not None for code, _, _ in errors):
        journal.undo()
        raise TransactionCanceledException(errors)


# --- 3. ClientRequestToken -----------------------------------------------------


class IdempotentParameterMismatch(DynamodbException):
    error_type = "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException"

    def __init__(self) -> None:
        super().__init__(
            self.error_type,
            message=("The request uses the same client token as a previous, but non-identical request."),
        )


class TransactionTokens:
    """ClientRequestToken -> the request it came with, for ``window``
    seconds after its transaction succeeded. Only successes are kept: a
    cancelled transaction changed nothing, so its retry runs again."""

    def __init__(self, window: float = TOKEN_WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self.clock = clock
        # Serialises transactions that carry a token, so a retry that arrives
        # while its first attempt still runs waits for it and replays it.
        self.lock = threading.Lock()
        self._seen: OrderedDict[str, tuple[str, float]] = OrderedDict()  # in order of expiry

    def __len__(self) -> int:
        return len(self._seen)

    def succeeded_before(self, token: str, fingerprint: str) -> bool:
        """True for a replay; IdempotentParameterMismatch for a token reused
        with another request; False for a token not seen (or expired)."""
        self._expire()
        seen = self._seen.get(token)
        if seen is None:
            return False
        if seen[0] != fingerprint:
            raise IdempotentParameterMismatch()
        return True

    def remember(self, token: str, fingerprint: str) -> None:
        self._seen[token] = (fingerprint, self.clock() + self.window)
        self._seen.move_to_end(token)

    def _expire(self) -> None:
        now = self.clock()
        while self._seen:
            token, (_, expires_at) = next(iter(self._seen.items()))
            if expires_at > now:
                return
            del self._seen[token]


def tokens_of(backend: DynamoDBBackend) -> TransactionTokens:
    """The backend's tokens (one backend per account and region, so a reset
    of moto forgets them with the tables)."""
    tokens = backend.__dict__.get("transaction_tokens")
    if tokens is None:
        tokens = backend.__dict__.setdefault("transaction_tokens", TransactionTokens())
    return tokens  # type: ignore[no-any-return]


def request_fingerprint(transact_items: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(transact_items, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def transact_write_items_response(self: DynamoHandler) -> ActionResult:
    token = self.body.get("ClientRequestToken")
    if not token:
        return _ORIGINAL["DynamoHandler.transact_write_items"](self)  # type: ignore[no-any-return]
    tokens = tokens_of(self.dynamodb_backend)
    fingerprint = request_fingerprint(self.body.get("TransactItems", []))
    with tokens.lock:
        if tokens.succeeded_before(token, fingerprint):
            # What the first run answered (moto reports no capacity).
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        result = _ORIGINAL["DynamoHandler.transact_write_items"](self)
        tokens.remember(token, fingerprint)
        return result  # type: ignore[no-any-return]


# --- 4. queries read the partition they name ------------------------------------


class _Candidates:
    """The table as Table.query sees it, but all_items() answers only the
    items that can match: moto's query then runs unchanged. (Upstream this is
    a change of one line in Table.query.)"""

    __slots__ = ("_table", "_items")

    def __init__(self, table: Table, items: list[Item]):
        self._table = table
        self._items = items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Item]:
        return self._items


def _partition_items(table: Table, hash_key: DynamoType) -> list[Item]:
    partition = table.items.get(hash_key)
    if partition is None:
        return []
    return list(partition.values()) if table.range_key_attr else [partition]


def unsorted_items(table: Table) -> list[Item]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def query(
    self: Table,
    hash_key: DynamoType | None,
    range_comparison: str | None,
    range_objs: list[DynamoType],
    limit: int,
    exclusive_start_key: dict[str, Any],
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: str | None = None,
    *args: Any,
    **kwargs: Any,
) -> Any:
    if index_name is None and hash_key is not None:
        # The base table's query keeps the items of hash_key and sorts them by range key.
        candidates = _partition_items(self, hash_key)
    else:
        # An index query filters every item, then sorts the matches itself.
        candidates = unsorted_items(self)
    return _ORIGINAL["Table.query"](
        _Candidates(self, candidates),
        hash_key,
        range_comparison,
        range_objs,
        limit,
        exclusive_start_key,
        scan_index_forward,
        projection_expressions,
        index_name,
        *args,
        **kwargs,
    )


# --- 5. reading a missing partition does not create it -----------------------------


def get_item(
    self: Table,
    hash_key: DynamoType,
    range_key: DynamoType | None = None,
    projection_expression: list[list[str]] | None = None,
) -> Item | None:
    if range_key and self.has_range_key and hash_key not in self.items:
        return None  # moto's table.items is a defaultdict: the lookup would add the partition
    return _ORIGINAL["Table.get_item"](self, hash_key, range_key, projection_expression)  # type: ignore[no-any-return]


# --- 6. items are answered as JSON ---------------------------------------------------


def _answered_as_json(handler: Callable[[DynamoHandler], Any]) -> Callable[[DynamoHandler], Any]:
    @functools.wraps(handler)
    def answer(self: DynamoHandler) -> Any:
        result = handler(self)
        if type(result) is DynamoResult:
            # Already plain {type: value} data (dynamo_to_dict); bytes become base64 here.
            return dynamo_json_dump(result.result)
        return result

    return answer


# --- 9. an item's size is added up once ------------------------------------------------------

MAX_ITEM_SIZE = 405000  # LimitedSizeDict's limit (AWS says 400 KB; measured between 409 and 410 KB)


def item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    self.hash_key = hash_key
    self.range_key = range_key
    self.attrs = LimitedSizeDict()
    size = 0
    for key, value in attrs.items():
        typed = DynamoType(value)
        size += bytesize(key) + typed.size()
        if size > MAX_ITEM_SIZE:
            raise ItemSizeTooLarge
        dict.__setitem__(self.attrs, key, typed)


# --- 10. requests are JSON with binary values decoded -------------------------------------------


def _binary_decoded(node: Any) -> Any:
    """The body with every AttributeValue's B and BS base64-decoded, as moto's
    parser hands it over. Only an AttributeValue is a JSON object whose one
    key is "B" with a string (or "BS" with a list): a map attribute or an
    item attribute named B holds an object, never a string."""
    if isinstance(node, dict):
        if len(node) == 1:
            ((name, value),) = node.items()
            if name == "B" and isinstance(value, str):
                return {"B": base64.b64decode(value)}
            if name == "BS" and isinstance(value, list) and all(isinstance(v, str) for v in value):
                return {"BS": [base64.b64decode(v) for v in value]}
        return {name: _binary_decoded(value) for name, value in node.items()}
    if isinstance(node, list):
        return [_binary_decoded(value) for value in node]
    return node


def parse_parameters(self: DynamoHandler, request: Any) -> None:
    body = request.data
    if not body:
        self.params = {}
        return
    try:
        self.params = _binary_decoded(json.loads(body))
    except ValueError:
        self.params = {"message": body.decode("utf-8", "replace") if isinstance(body, bytes) else body}


# --- 11. an expression validator builds its processing map once ----------------------------------


def _processing_map(self: DepthFirstTraverser) -> dict[type, Callable[[Any], Any]]:
    mapping = self.__dict__.get("_processing_map_once")
    if mapping is None:
        mapping = self.__dict__["_processing_map_once"] = self._processing_map()
    return mapping  # type: ignore[no-any-return]


def _nodes_to_be_processed(self: DepthFirstTraverser) -> tuple[type, ...]:
    return tuple(_processing_map(self))


def _process(self: DepthFirstTraverser, node: Any) -> Any:
    for class_key, processor in _processing_map(self).items():
        if isinstance(node, class_key):
            return processor(node)
    return None


# --- 7. update expressions are parsed once per text ---------------------------------------


@functools.lru_cache(maxsize=1024)
def _parse_update_expression(expression: str) -> UpdateExpression:
    return _ORIGINAL["UpdateExpressionParser.make"](expression)  # type: ignore[no-any-return]


def _cached_parse(cls: type, expression_str: str) -> UpdateExpression:
    return _parse_update_expression(expression_str)


# --- 8. whole-expression checks run at the expression nodes ---------------------------------


def _at_expression_nodes(check: Callable[[Any, UpdateExpression], UpdateExpression]) -> Callable[..., Any]:
    @functools.wraps(check)
    def at_expression_nodes(self: Any, node: UpdateExpression) -> UpdateExpression:
        if type(node) is not UpdateExpression:
            return node  # a clause, action or path: the expression node above it sees its subtree
        return check(self, node)

    return at_expression_nodes


if __name__ == "__main__":
    # After reviewing the patch against a new moto: print what to record.
    print(f'MOTO_VERSION = "{moto.__version__}"')
    for name, digest in source_hashes().items():
        print(f'    "{name}": "{digest}",')
