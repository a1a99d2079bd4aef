"""The deal pipeline (``GET /v1/deals/pipeline``): per stage, in stage order,
the number of deals, their value summed in the tenant's default currency and
the probability-weighted sum (each deal's value x its own probability).

Cost model (deliberate; it does not grow with the number of deals):
- Public deals are summed ahead of time. Every deal write ADDs its
  contribution (count 1, value, value x probability / 100, as Decimal
  numbers) to an aggregate item per (scope, stage, currency) and removes its
  old one, in the deal's own transaction, so the aggregates can never
  disagree with the deals. Scope PUB holds public deals, PRIV private ones.
- A request reads the stages (1 Query), the money settings (1 GetItem), the
  aggregates (1 Query over ``stages x currencies x 2`` small items) and, for a
  user who is not an admin, the index entries of the private deals they are
  listed on (1 Query on ``acl#<user>``, paged at 200 entries). The creator of
  a private deal is always on its list, so that one facet is every private
  deal the user may see. Admins see every deal: they add the PRIV aggregates
  instead and read no deal at all.
- So the cost is O(stages x currencies + the caller's private deals), with no
  Scan and no read of deals the caller may not see.
- Conversion: each (stage, currency) sum is converted with the tenant's rates;
  a missing rate is a 422 naming every pair that lacks one (only currencies
  that actually hold deals count). Sums are rounded to the default currency's
  minor unit once, at the end.
- Trade-off: the aggregate items are hot keys under many concurrent deal
  writes in the same stage and currency (a transaction conflict is retried by
  the client as a 409); fine for a CRM's write rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib.domain.settings.currency import MissingRates, Rates, convert, rate_for, rate_table, round_money
from chalicelib.domain.settings.lists import ListEntry, StageStatus
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.principal import Principal

if TYPE_CHECKING:
    from chalicelib.domain.deals.ports import PipelineStore
    from chalicelib.domain.settings.ports import ListEntries, MoneySettingsReader

PUBLIC, PRIVATE = "PUB", "PRIV"


class PipelineStage(Model):
    stage_id: str
    name: str
    status: StageStatus
    probability: int
    color: str | None
    count: int
    sum: str
    weighted_sum: str


class Pipeline(Model):
    currency: str
    stages: list[PipelineStage]
    count: int
    sum: str
    weighted_sum: str


# (stage id, currency) -> [count (int), value (Decimal), weighted (Decimal)]: mixed numbers, hence Any.
Totals = dict[tuple[str, str], list[Any]]


def add_aggregates(totals: Totals, items: Iterable[dict[str, Any]], scopes: tuple[str, ...]) -> None:
    for item in items:
        scope, stage_id, currency = item["sk"].split("#", 2)
        if scope in scopes:
            _add(
                totals,
                stage_id,
                currency,
                int(item.get("count", 0)),
                Decimal(item.get("value", 0)),
                Decimal(item.get("weighted", 0)),
            )


def add_entries(totals: Totals, entries: Iterable[dict[str, Any]]) -> None:
    """Private deals read one by one (their index entries)."""
    for entry in entries:
        _add(
            totals,
            entry["stage_id"],
            entry["currency"],
            1,
            Decimal(entry.get("value") or 0),
            Decimal(entry.get("weighted") or 0),
        )


def _add(totals: Totals, stage_id: str, currency: str, count: int, value: Decimal, weighted: Decimal) -> None:
    total = totals.setdefault((stage_id, currency), [0, Decimal(0), Decimal(0)])
    total[0] += count
    total[1] += value
    total[2] += weighted


def build(stages: list[ListEntry], totals: Totals, currency: str, rates: Rates) -> Pipeline:
    table = rate_table(rates)
    known = {s.id for s in stages}
    held = {(stage, code): t for (stage, code), t in totals.items() if t[0] > 0 and stage in known}
    missing = {(code, currency) for (_, code) in held if rate_for(code, currency, table) is None}
    if missing:
        raise MissingRates(missing)
    rows, all_count, all_sum, all_weighted = [], 0, Decimal(0), Decimal(0)
    for stage in sorted(stages, key=lambda s: s.order):
        count, value, weighted = 0, Decimal(0), Decimal(0)
        for (stage_id, code), (n, v, w) in held.items():
            if stage_id == stage.id:
                count += n
                value += convert(v, code, currency, table)
                weighted += convert(w, code, currency, table)
        rows.append(
            PipelineStage(
                stage_id=stage.id,
                name=stage.name,
                status=stage.status or StageStatus.OPEN,
                probability=stage.probability or 0,
                color=stage.color,
                count=count,
                sum=_money(value, currency),
                weighted_sum=_money(weighted, currency),
            )
        )
        all_count, all_sum, all_weighted = all_count + count, all_sum + value, all_weighted + weighted
    return Pipeline(
        currency=currency,
        stages=rows,
        count=all_count,
        sum=_money(all_sum, currency),
        weighted_sum=_money(all_weighted, currency),
    )


def _money(amount: Decimal, currency: str) -> str:
    return str(round_money(amount, currency))


class DealPipeline:
    def __init__(self, store: PipelineStore, stages: ListEntries, money: MoneySettingsReader):
        self._store = store
        self._stages = stages
        self._money = money

    def get(self, principal: Principal) -> Pipeline:
        stages = self._stages.list(principal, "deal-stages")
        settings = self._money.get(principal)
        totals: Totals = {}
        aggregates = self._store.aggregates(principal.tenant_id)
        if principal.is_admin:
            add_aggregates(totals, aggregates, (PUBLIC, PRIVATE))
        else:
            add_aggregates(totals, aggregates, (PUBLIC,))
            add_entries(totals, self._store.entries(principal.tenant_id, f"acl#{principal.user_id}"))
        return build(stages, totals, settings.currency, settings.rates)
