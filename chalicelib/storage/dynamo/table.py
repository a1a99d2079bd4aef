"""The single table: conditional create, version-checked update, transactions
and paged queries. Items go in and come out as plain Python values.

Every mutable item carries ``version`` (1 on create, +1 on every update), and
every write states its condition; there is no read-then-put anywhere.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.config import get_settings
from chalicelib.domain.shared.errors import Conflict, CrmError, NotFound, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors, error_code
from chalicelib.storage.dynamo.keys import SortKey
from chalicelib.storage.dynamo.table_spec import PK, SK, index_keys

if TYPE_CHECKING:
    from typing_extensions import TypeIs

Item = dict[str, Any]
Key = dict[str, str]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# A filtered query reads at most this many DynamoDB pages per API page, so a
# caller who may see little of a large collection cannot make one request
# read it all; the page then ends early with a cursor to go on.
MAX_READS_PER_PAGE = 8
_FIRST_PAGE = PageRequest()


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items() if value is not None}


def deserialize(item: Mapping[str, Any]) -> Item:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


# ---- transaction operations: each says what its failed condition means ----


@dataclass
class Put:
    item: Item
    must_not_exist: bool = True
    on_conflict: CrmError | None = None


@dataclass
class Update:
    key: Key
    set: Mapping[str, Any] = field(default_factory=dict)
    remove: Sequence[str] = ()
    # Numbers are added; sets gain their members.
    add: Mapping[str, Any] = field(default_factory=dict)
    # Sets lose these members.
    discard: Mapping[str, builtins.set[str]] = field(default_factory=dict)
    expected_version: int | None = None
    # Rules stated as conditions, e.g. ("owner_count", ">", 1) or a list of them.
    require: Any = None
    # False for counters and markers that are not versioned records.
    bump_version: bool = True
    must_exist: bool = True
    on_conflict: CrmError | None = None


@dataclass
class Delete:
    key: Key
    expected_version: int | None = None
    must_exist: bool = False
    on_conflict: CrmError | None = None


@dataclass
class Check:
    key: Key
    condition: str  # e.g. "attribute_exists(pk) AND kind = :kind"
    values: Mapping[str, Any] = field(default_factory=dict)  # e.g. {":kind": "company"}
    on_conflict: CrmError | None = None


class _Expr:
    """Collects placeholder names and values for one expression set."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.names:
            params["ExpressionAttributeNames"] = self.names
        if self.values:
            params["ExpressionAttributeValues"] = serialize(self.values)
        return params


def _version_condition(expr: _Expr, expected_version: int | None, must_exist: bool) -> str | None:
    parts = []
    if must_exist or expected_version is not None:
        parts.append(f"attribute_exists({expr.name(PK)})")
    if expected_version is not None:
        parts.append(f"{expr.name('version')} = {expr.value(expected_version)}")
    return " AND ".join(parts) or None


Rule = tuple[str, str, Any]


def _is_one_rule(require: Rule | Sequence[Rule]) -> TypeIs[Rule]:
    return bool(require) and isinstance(require[0], str)


def _rules(expr: "_Expr", require: Rule | Sequence[Rule] | None) -> list[str]:
    """Conditions such as ("owner_count", ">", 1) or ("sent_at", "not_exists", None)."""
    if require is None:
        return []
    rules = [require] if _is_one_rule(require) else list(require)
    built = []
    for attribute, comparison, value in rules:
        if comparison == "not_exists":
            built.append(f"attribute_not_exists({expr.name(attribute)})")
        elif comparison == "exists":
            built.append(f"attribute_exists({expr.name(attribute)})")
        elif comparison in ("=", "<", "<=", ">", ">=", "<>"):
            built.append(f"{expr.name(attribute)} {comparison} {expr.value(value)}")
        else:
            raise ValueError(f"unsupported comparison {comparison}")
    return built


def _update_params(op: Update) -> dict[str, Any]:
    expr = _Expr()
    sets = [f"{expr.name(attr)} = {expr.value(value)}" for attr, value in op.set.items() if value is not None]
    removes = [expr.name(attr) for attr, value in op.set.items() if value is None] + [expr.name(a) for a in op.remove]
    adds = [f"{expr.name(attr)} {expr.value(amount)}" for attr, amount in op.add.items()]
    discards = [f"{expr.name(attr)} {expr.value(members)}" for attr, members in op.discard.items() if members]
    if op.bump_version:
        version = expr.name("version")
        sets.append(f"{version} = if_not_exists({version}, {expr.value(0)}) + {expr.value(1)}")
    clauses = []
    if sets:
        clauses.append("SET " + ", ".join(sets))
    if removes:
        clauses.append("REMOVE " + ", ".join(removes))
    if adds:
        clauses.append("ADD " + ", ".join(adds))
    if discards:
        clauses.append("DELETE " + ", ".join(discards))
    params: dict[str, Any] = {"Key": serialize(op.key), "UpdateExpression": " ".join(clauses)}
    condition = _version_condition(expr, op.expected_version, op.must_exist)
    for rule in _rules(expr, op.require):
        condition = f"{condition} AND {rule}" if condition else rule
    if condition:
        params["ConditionExpression"] = condition
    params.update(expr.params())
    return params


def _put_params(op: Put) -> dict[str, Any]:
    item = dict(op.item)
    item.setdefault("version", 1)
    params: dict[str, Any] = {"Item": serialize(item)}
    if op.must_not_exist:
        params["ConditionExpression"] = "attribute_not_exists(pk)"
    return params


def _delete_params(op: Delete) -> dict[str, Any]:
    expr = _Expr()
    params: dict[str, Any] = {"Key": serialize(op.key)}
    condition = _version_condition(expr, op.expected_version, op.must_exist)
    if condition:
        params["ConditionExpression"] = condition
    params.update(expr.params())
    return params


def key_of(item: Mapping[str, Any], index: str | None = None) -> Key:
    key = {PK: item[PK], SK: item[SK]}
    if index is not None:
        hash_key, range_key = index_keys(index)
        key[hash_key], key[range_key] = item[hash_key], item[range_key]
    return key


class Table:
    """The one DynamoDB table, its name from the settings."""

    def __init__(self, name: str | None = None):
        self._name = name

    @property
    def name(self) -> str:
        return self._name or get_settings().table_name

    @property
    def _client(self) -> Any:
        return client("dynamodb")

    def get(self, key: Key, *, consistent: bool = False) -> Item | None:
        with aws_errors():
            answer = self._client.get_item(TableName=self.name, Key=serialize(key), ConsistentRead=consistent)
        return deserialize(answer["Item"]) if "Item" in answer else None

    def get_many(self, keys: Iterable[Key], *, consistent: bool = False) -> list[Item]:
        """Items for the keys that exist, in no particular order."""
        pending = [serialize(k) for k in {(k[PK], k[SK]): k for k in keys}.values()]
        found: list[Item] = []
        while pending:
            batch, pending = pending[:100], pending[100:]
            request = {self.name: {"Keys": batch, "ConsistentRead": consistent}}
            while request:
                with aws_errors():
                    answer = self._client.batch_get_item(RequestItems=request)
                found += [deserialize(i) for i in answer.get("Responses", {}).get(self.name, [])]
                request = answer.get("UnprocessedKeys") or {}
        return found

    def create(self, item: Item, *, on_conflict: CrmError | None = None) -> Item:
        """Put a new item; fails with ``on_conflict`` (default Conflict) if the key exists."""
        op = Put(item, on_conflict=on_conflict or Conflict("The record already exists."))
        with aws_errors(on_condition=[op.on_conflict]):
            self._client.put_item(TableName=self.name, **_put_params(op))
        return {**item, "version": item.get("version", 1)}

    def update(
        self,
        key: Key,
        *,
        set: Mapping[str, Any] | None = None,
        remove: Sequence[str] = (),
        add: Mapping[str, int] | None = None,
        expected_version: int | None = None,
        bump_version: bool = True,
        must_exist: bool = True,
        require: Any = None,
    ) -> Item:
        """Update in place and return the new item. With ``expected_version``,
        a missing item is NotFound and another version PreconditionFailed;
        a failed ``require`` rule is a Conflict."""
        op = Update(
            key,
            set=set or {},
            remove=remove,
            add=add or {},
            expected_version=expected_version,
            bump_version=bump_version,
            must_exist=must_exist,
            require=require,
        )
        try:
            answer = self._client.update_item(
                TableName=self.name,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **_update_params(op),
            )
        except ClientError as err:
            if error_code(err) == "ConditionalCheckFailedException":
                old = err.response.get("Item")
                stale = (
                    expected_version is not None
                    and old
                    and "version" in old
                    and _deserializer.deserialize(old["version"]) != expected_version
                )
                if require is not None and old and not stale:
                    raise Conflict("The record is not in the state this change needs.") from err
                raise self._condition_error(err, expected_version) from err
            with aws_errors():
                raise
        return deserialize(answer["Attributes"])

    def delete(self, key: Key, *, expected_version: int | None = None, must_exist: bool = False) -> Item | None:
        """Delete and return the old item (None if there was none)."""
        op = Delete(key, expected_version=expected_version, must_exist=must_exist)
        try:
            answer = self._client.delete_item(
                TableName=self.name,
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **_delete_params(op),
            )
        except ClientError as err:
            if error_code(err) == "ConditionalCheckFailedException":
                raise self._condition_error(err, expected_version) from err
            with aws_errors():
                raise
        return deserialize(answer["Attributes"]) if answer.get("Attributes") else None

    def delete_if(self, key: Key, attribute: str, op: str, value: Any) -> bool:
        """Delete only while ``attribute op value`` holds; False if it did not
        (or the item is gone already)."""
        if op not in ("=", "<", "<=", ">", ">="):
            raise ValueError(f"unsupported comparison {op}")
        expr = _Expr()
        condition = f"{expr.name(attribute)} {op} {expr.value(value)}"
        try:
            self._client.delete_item(
                TableName=self.name, Key=serialize(key), ConditionExpression=condition, **expr.params()
            )
        except ClientError as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            with aws_errors():
                raise
        return True

    @staticmethod
    def _condition_error(err: ClientError, expected_version: int | None) -> CrmError:
        old = err.response.get("Item")
        if not old:
            return NotFound("The record does not exist.")
        current = _deserializer.deserialize(old["version"]) if "version" in old else None
        return PreconditionFailed(
            f"The record is at version {current}, not {expected_version}; reload it and apply the change again."
        )

    def scan(self) -> Iterator[Item]:
        """Every item of the table. Offline jobs only (migrations, backups):
        a request path never scans."""
        params: dict[str, Any] = {"TableName": self.name}
        while True:
            with aws_errors():
                answer = self._client.scan(**params)
            yield from (deserialize(i) for i in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def write_batch(self, puts: Iterable[Item] = (), deletes: Iterable[Key] = ()) -> None:
        """Unconditional puts and deletes, 25 at a time (offline jobs: no
        condition, no version, so never for records a user may be changing)."""
        requests = [{"PutRequest": {"Item": serialize(i)}} for i in puts]
        requests += [{"DeleteRequest": {"Key": serialize(k)}} for k in deletes]
        while requests:
            pending = {self.name: requests[:25]}
            requests = requests[25:]
            while pending:
                with aws_errors():
                    answer = self._client.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}

    def transact(self, operations: Sequence[Put | Update | Delete | Check]) -> None:
        """All or nothing. A failed condition raises that operation's ``on_conflict``."""
        if not operations:
            return
        if len(operations) > 100:
            raise ValueError("a transaction holds at most 100 operations")
        requests, failures = [], []
        for op in operations:
            if isinstance(op, Put):
                requests.append({"Put": {"TableName": self.name, **_put_params(op)}})
            elif isinstance(op, Update):
                requests.append({"Update": {"TableName": self.name, **_update_params(op)}})
            elif isinstance(op, Delete):
                requests.append({"Delete": {"TableName": self.name, **_delete_params(op)}})
            else:
                check: dict[str, Any] = {
                    "TableName": self.name,
                    "Key": serialize(op.key),
                    "ConditionExpression": op.condition,
                }
                if op.values:
                    check["ExpressionAttributeValues"] = serialize(op.values)
                requests.append({"ConditionCheck": check})
            failures.append(op.on_conflict or self._default_conflict(op))
        with aws_errors(on_condition=failures):
            self._client.transact_write_items(TransactItems=requests)

    @staticmethod
    def _default_conflict(op: Put | Update | Delete | Check) -> CrmError:
        if isinstance(op, (Update, Delete)) and op.expected_version is not None:
            return PreconditionFailed("The record changed since it was read; reload it and apply the change again.")
        if isinstance(op, Put):
            return Conflict("The record already exists.")
        return Conflict("The record changed meanwhile.")

    def query(
        self,
        partition: str,
        *,
        sort: SortKey | None = None,
        index: str | None = None,
        page: PageRequest = _FIRST_PAGE,
        visible: Callable[[Item], bool] | None = None,
        newest_first: bool = False,
        consistent: bool = False,
    ) -> Slice[Item]:
        """One page of a Query. ``visible`` drops items the caller may not see
        while still filling the page; the position after the last item
        examined becomes the next cursor."""
        hash_key, range_key = index_keys(index)
        expr = _Expr()
        condition = f"{expr.name(hash_key)} = {expr.value(partition)}"
        if sort is not None:
            sort_expr = sort.expression(expr.name(range_key))
            for i, value in enumerate(sort.values):
                expr.values[f":sk{i}"] = value
            condition += f" AND {sort_expr}"
        params: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ScanIndexForward": not newest_first,
            **expr.params(),
        }
        if index is not None:
            params["IndexName"] = index
        elif consistent:
            params["ConsistentRead"] = True
        start = page.after
        items: list[Item] = []
        examined = 0
        for _ in range(MAX_READS_PER_PAGE):
            # One more than needed tells whether another page exists without an
            # extra call; when items are filtered out, read as many more as the
            # share seen so far says it takes to fill the page.
            wanted = page.limit - len(items) + 1
            if visible is not None and examined:
                share = max(len(items) / examined, 0.02)
                wanted = int(wanted / share) + 1
            params["Limit"] = min(1000, wanted)
            if start:
                params["ExclusiveStartKey"] = serialize(start)
            with aws_errors():
                answer = self._client.query(**params)
            batch = [deserialize(i) for i in answer.get("Items", [])]
            examined += len(batch)
            more_in_table = "LastEvaluatedKey" in answer
            for position, item in enumerate(batch):
                if visible is not None and not visible(item):
                    start = key_of(item, index)
                    continue
                items.append(item)
                if len(items) == page.limit:
                    rest_exists = position < len(batch) - 1 or more_in_table
                    return Slice(items, key_of(item, index) if rest_exists else None)
            if not more_in_table:
                return Slice(items, None)
            start = deserialize(answer["LastEvaluatedKey"])
        return Slice(items, start)
