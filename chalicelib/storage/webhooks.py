"""Webhooks' adapters (issue 18): subscriptions and deliveries in the table,
the table's stream read into ``ItemChange``s, DNS, and the HTTP client.

- Signing secrets are sealed (AES-GCM, storage/sealing.py) with a key derived
  from the webhook server secret (``storage.secrets.webhook_secret``) and the item's
  key; the table never holds one in clear, and a subscription read for an
  answer never carries one.
- The stream (NEW_AND_OLD_IMAGES) is read by the ``webhook_events`` function
  on AWS (an event source mapping in the template) and by the job pump on the
  local stack (``StreamTail`` over the moto server); both hand the same
  Lambda-shaped records to handlers/background/webhooks.py.
- HTTP: urllib3 (botocore's own dependency, so in every Lambda already), to
  the address the SSRF guard checked, with the URL's host for the Host header,
  SNI and certificate check, no redirects, no retries, short timeouts.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain.shared.errors import Conflict, NotFound, PreconditionFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.webhooks.events import ItemChange
from chalicelib.domain.webhooks.models import Delivery, Subscription
from chalicelib.domain.webhooks.ports import Answer
from chalicelib.domain.webhooks.targets import Target
from chalicelib.storage import sealing
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import SortKey, Table

# Deliveries (with their payloads) are kept this long for the log and replays.
DELIVERY_LOG_DAYS = 30
_SEALING_PURPOSE = "webhook-secret"


def _sealing_key(item_key: Mapping[str, str], secret: bytes | None) -> tuple[bytes, str]:
    context = f"{item_key['pk']}\n{item_key['sk']}"
    from chalicelib.storage.secrets import webhook_secret

    return sealing.derive_key(secret or webhook_secret(get_settings()), _SEALING_PURPOSE, context), context


class DynamoSubscriptionStore:
    def __init__(self, table: Table | None = None, secret: bytes | None = None):
        self._table = table or Table()
        self._secret = secret

    def _seal(self, item_key: Mapping[str, str], value: str) -> str:
        key, context = _sealing_key(item_key, self._secret)
        return sealing.seal(key, context, value)

    def _open(self, item_key: Mapping[str, str], sealed: str | None) -> str | None:
        if not sealed:
            return None
        key, context = _sealing_key(item_key, self._secret)
        return sealing.unseal(key, context, sealed)

    def list(self, tenant_id: str) -> list[Subscription]:
        found = self._table.query(
            keys.webhooks(tenant_id),
            sort=SortKey.begins_with(keys.WEBHOOK_SUBSCRIPTION_PREFIX),
            page=PageRequest(limit=200),
            consistent=True,
        )
        return [Subscription.model_validate(i) for i in found.items]

    def get(self, tenant_id: str, subscription_id: str) -> Subscription | None:
        item = self._table.get(keys.webhook_subscription(tenant_id, subscription_id), consistent=True)
        return Subscription.model_validate(item) if item else None

    def create(self, subscription: Subscription, secret: str) -> Subscription:
        key = keys.webhook_subscription(subscription.tenant_id, subscription.id)
        self._table.create(
            {**subscription.model_dump(mode="json"), **key, "secret_sealed": self._seal(key, secret)},
            on_conflict=Conflict("The webhook exists already."),
        )
        return subscription

    def update(self, before: Subscription, after: Subscription, *, new_secret: str | None = None) -> Subscription:
        key = keys.webhook_subscription(after.tenant_id, after.id)
        item = after.model_dump(mode="json")
        changes: dict[str, Any] = {k: v for k, v in item.items() if k not in ("id", "version", "tenant_id")}
        if new_secret is not None:
            current = self._table.get(key, consistent=True)
            if current is None:
                raise NotFound("No such webhook.")
            changes["previous_secret_sealed"] = current.get("secret_sealed")
            changes["secret_sealed"] = self._seal(key, new_secret)
        self._table.update(key, set=changes, expected_version=before.version)
        return after.model_copy(update={"version": before.version + 1})

    def delete(self, subscription: Subscription) -> None:
        self._table.delete(
            keys.webhook_subscription(subscription.tenant_id, subscription.id),
            expected_version=subscription.version,
            must_exist=True,
        )

    def secrets(self, tenant_id: str, subscription_id: str) -> tuple[str, str | None]:
        key = keys.webhook_subscription(tenant_id, subscription_id)
        item = self._table.get(key, consistent=True)
        current = self._open(key, item.get("secret_sealed")) if item else None
        if current is None:
            raise NotFound("The webhook's secret cannot be opened (gone, or the server secret changed).")
        return current, self._open(key, item.get("previous_secret_sealed")) if item else None


class DynamoDeliveryStore:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def _item(self, delivery: Delivery) -> dict[str, Any]:
        return {
            **delivery.model_dump(mode="json"),
            **keys.webhook_delivery(delivery.tenant_id, delivery.subscription_id, delivery.id),
            **keys.expiry_attributes(delivery.created_at + timedelta(days=DELIVERY_LOG_DAYS)),
        }

    def add(self, delivery: Delivery) -> bool:
        try:
            self._table.create(self._item(delivery))
        except Conflict:
            return False
        return True

    def get(self, tenant_id: str, subscription_id: str, delivery_id: str) -> Delivery | None:
        item = self._table.get(keys.webhook_delivery(tenant_id, subscription_id, delivery_id), consistent=True)
        return Delivery.model_validate(item) if item else None

    def save(self, before: Delivery, after: Delivery) -> Delivery:
        changes = {
            k: v
            for k, v in after.model_dump(mode="json").items()
            if k not in ("id", "version", "tenant_id", "subscription_id", "event_id", "payload", "created_at")
        }
        try:
            self._table.update(
                keys.webhook_delivery(after.tenant_id, after.subscription_id, after.id),
                set=changes,
                expected_version=before.version,
            )
        except NotFound as err:
            raise PreconditionFailed("The delivery is gone.") from err
        return after.model_copy(update={"version": before.version + 1})

    def delete(self, delivery: Delivery) -> None:
        self._table.delete(keys.webhook_delivery(delivery.tenant_id, delivery.subscription_id, delivery.id))

    def list(
        self,
        tenant_id: str,
        subscription_id: str,
        page: PageRequest,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        newest_first: bool = True,
    ) -> Slice[Delivery]:
        low, high = keys.webhook_delivery_range(since, until)
        found = self._table.query(
            keys.webhook_deliveries(tenant_id, subscription_id),
            sort=SortKey.between(low, high),
            page=page,
            newest_first=newest_first,
        )
        return Slice([Delivery.model_validate(i) for i in found.items], found.after)


# ---- the table's stream ----


def _plain(value: Any) -> Any:
    """A deserialized DynamoDB value as JSON: numbers int or decimal string, sets lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "value") and isinstance(value.value, (bytes, bytearray)):  # boto3 Binary
        return base64.b64encode(bytes(value.value)).decode()
    return value


def _image(wire: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if wire is None:
        return None
    from chalicelib.storage.dynamo.table import deserialize

    return {k: _plain(v) for k, v in deserialize(wire).items()}


def change_of(record: Mapping[str, Any]) -> ItemChange | None:
    """The change a Lambda DynamoDB stream record describes, None for items
    that are not a record's own (index entries, markers, logs)."""
    data = record.get("dynamodb") or {}
    wire_keys = data.get("Keys") or {}
    pk, sk = (wire_keys.get("pk") or {}).get("S"), (wire_keys.get("sk") or {}).get("S")
    if not isinstance(pk, str) or not isinstance(sk, str):
        return None
    named = keys.record_item(pk, sk)
    if named is None:
        return None
    tenant_id, kind, record_id = named
    moment = data.get("ApproximateCreationDateTime")
    at = datetime.fromtimestamp(float(moment), UTC) if moment is not None else datetime.now(UTC)
    return ItemChange(
        change_id=str(record.get("eventID") or data.get("SequenceNumber")),
        tenant_id=tenant_id,
        kind=kind,
        record_id=record_id,
        at=at,
        old=_image(data.get("OldImage")),
        new=_image(data.get("NewImage")),
    )


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda's event source mapping hands it over."""
    data = dict(record["dynamodb"])
    moment = data.get("ApproximateCreationDateTime")
    if isinstance(moment, datetime):
        data["ApproximateCreationDateTime"] = moment.timestamp()
    return {**{k: v for k, v in record.items() if k != "dynamodb"}, "dynamodb": data, "eventSourceARN": stream_arn}


class StreamTail:
    """Reads the table's stream from where it started (TRIM_HORIZON) on, shard
    by shard, as Lambda's poller does; the local pump and the tests use it."""

    def __init__(self, table_name: str | None = None):
        self._table_name = table_name or get_settings().table_name
        self.stream_arn = ""
        self._iterators: dict[str, str | None] = {}

    def _client(self) -> Any:
        from chalicelib.storage.dynamo.aws import client

        return client("dynamodbstreams")

    def resolve(self) -> None:
        from chalicelib.storage.dynamo.aws import client

        table = client("dynamodb").describe_table(TableName=self._table_name)["Table"]
        self.stream_arn = table.get("LatestStreamArn") or ""
        if not self.stream_arn:
            raise RuntimeError(f"table {self._table_name} has no stream")

    def continue_after(self, sequence_number: str | None) -> None:
        """Read on after this record (None: from the oldest kept) with new iterators."""
        streams = self._client()
        for shard_id in list(self._iterators):
            where: dict[str, Any] = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": sequence_number}
                if sequence_number
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            self._iterators[shard_id] = streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, **where
            )["ShardIterator"]

    def read(self, limit: int = 100) -> list[dict[str, Any]]:
        """The next records (Lambda-shaped), oldest first; [] when none are new."""
        if not self.stream_arn:
            self.resolve()
        streams = self._client()
        shards = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"].get("Shards", [])
        records: list[dict[str, Any]] = []
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            if iterator is None:
                continue  # a closed shard, read to its end
            answer = streams.get_records(ShardIterator=iterator, Limit=limit)
            self._iterators[shard_id] = answer.get("NextShardIterator")
            records += [lambda_record(r, self.stream_arn) for r in answer.get("Records", [])]
        return records


# ---- DNS and HTTP ----


class DnsResolver:
    def resolve(self, host: str, port: int) -> list[str]:
        import socket

        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return []
        return list(dict.fromkeys(str(info[4][0]) for info in found))


CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
# Of the receiver's answer only this much is read (the status is what counts).
MAX_ANSWER_BYTES = 4096


class HttpSender:
    def __init__(self, connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT):
        self._timeout = (connect_timeout, read_timeout)

    def post(self, target: Target, address: str, headers: dict[str, str], body: bytes) -> Answer:
        import urllib3
        from urllib3.exceptions import HTTPError

        timeout = urllib3.Timeout(connect=self._timeout[0], read=self._timeout[1])
        pool: Any
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address,
                target.port,
                timeout=timeout,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                server_hostname=target.host,
                assert_hostname=target.host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False)
        try:
            with pool:
                response = pool.urlopen(
                    "POST",
                    target.path,
                    body=body,
                    headers={**headers, "host": target.host_header},
                    redirect=False,
                    retries=False,
                    preload_content=False,
                    assert_same_host=False,
                )
                response.read(MAX_ANSWER_BYTES)
                response.release_conn()
        except HTTPError as err:
            return Answer(None, type(err).__name__)
        except OSError as err:
            return Answer(None, type(err).__name__)
        status = int(response.status)
        if 300 <= status < 400:
            return Answer(status, "redirect not followed")
        return Answer(status, None if 200 <= status < 300 else f"HTTP {status}")
