"""Rate counters in the single table: the fixed windows of domain/shared/limits.py.

One item per (scope, subject, window): ``ADD hits 1`` on the condition that
the window holds fewer than the limit, so a refused request changes nothing
and parallel requests never count past the limit. One UpdateItem per hit
(1 write unit: the item is tiny), answering the new count for the
``RateLimit`` field. Items expire by TTL an hour after their window; swept
counters (low-volume ones: web forms) also get the schedule index entry that
housekeeping uses where TTL lags, which would double the per-request API
counters' cost (an index write per hit), so those carry TTL only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.shared.errors import Conflict
from chalicelib.domain.shared.limits import Counter
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors
from chalicelib.storage.dynamo.table import Table, serialize


class DynamoRateCounters:
    def __init__(self, table: Table | None = None):
        self._table = table or Table()

    def take(self, counter: Counter, limit: int, expires_at: datetime) -> int | None:
        expiry = keys.expiry_attributes(expires_at)
        names = {"#hits": "hits", "#ttl": "ttl"}
        values: dict[str, Any] = {":one": 1, ":limit": limit, ":ttl": expiry["ttl"]}
        expression = "ADD #hits :one SET #ttl = :ttl"
        if counter.sweep:
            names.update({"#spk": "sched_pk", "#ssk": "sched_sk"})
            values.update({":spk": expiry["sched_pk"], ":ssk": expiry["sched_sk"]})
            expression += ", #spk = :spk, #ssk = :ssk"
        full = Conflict("The window holds its limit.")
        try:
            with aws_errors(on_condition=[full]):
                answer = client("dynamodb").update_item(
                    TableName=self._table.name,
                    Key=serialize(_key(counter)),
                    UpdateExpression=expression,
                    ConditionExpression="attribute_not_exists(#hits) OR #hits < :limit",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=serialize(values),
                    ReturnValues="UPDATED_NEW",
                )
        except Conflict as refused:
            if refused is full:
                return None
            raise
        return int(answer["Attributes"]["hits"]["N"])

    def give_back(self, counter: Counter) -> None:
        # Only an existing window: a refund never creates a counter (or a negative one).
        try:
            with aws_errors(on_condition=[Conflict("gone")]):
                client("dynamodb").update_item(
                    TableName=self._table.name,
                    Key=serialize(_key(counter)),
                    UpdateExpression="ADD #hits :minus",
                    ConditionExpression="#hits > :zero",
                    ExpressionAttributeNames={"#hits": "hits"},
                    ExpressionAttributeValues=serialize({":minus": -1, ":zero": 0}),
                )
        except Conflict:
            pass  # expired or already at zero: nothing to give back


def _key(counter: Counter) -> dict[str, str]:
    return keys.rate_counter(counter.tenant_id, counter.scope, counter.subject, counter.window)
