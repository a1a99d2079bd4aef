"""A deal's index entries and its share of the pipeline aggregates (DEA-8).

Facets (pk ``T#t#DX#<facet>``, sk the deal id, so newest first is a
descending Query): all, resp#<user>, stage#<stage>, status#<open|won|lost>,
tag#<folded>, contact#<contact> (the main contact and each member),
acl#<user> (private deals, one per listed user) and ``close`` (sk
``<expected close date>#<id>``).
"""

from __future__ import annotations

from decimal import Decimal

from chalicelib.domain.deals.models import Deal
from chalicelib.domain.shared.text import fold
from chalicelib.storage.dynamo import keys
from chalicelib.storage.indexes import Entries, Entry

PUBLIC, PRIVATE = "PUB", "PRIV"


def contribution(deal: Deal | None) -> dict[tuple[str, str, str], tuple[int, Decimal, Decimal]]:
    """What a deal adds to the pipeline aggregates: (scope, stage, currency) -> (count, value, weighted)."""
    if deal is None:
        return {}
    scope = PRIVATE if deal.access_list else PUBLIC
    return {(scope, deal.stage_id, deal.currency): (1, deal.value or Decimal(0), deal.weighted)}


def index_entries(deal: Deal) -> Entries:
    """Every index entry of a deal, by key."""
    tenant = deal.tenant_id
    value = deal.value
    attributes: Entry = {
        "rid": deal.id,
        "access_list": list(deal.access_list),
        "created_by": deal.created_by,
        "responsible_id": deal.responsible_id,
        "stage_id": deal.stage_id,
        "stage_status": deal.stage_status.value,
        "tags": [fold(t) for t in deal.tags],
        "contact_ids": deal.contact_ids,
        "close": deal.expected_close_date.isoformat() if deal.expected_close_date else None,
        "currency": deal.currency,
        "value": str(value) if value is not None else "0",
        "weighted": str(deal.weighted),
        "probability": deal.probability,
    }
    facets = ["all", f"resp#{deal.responsible_id}", f"stage#{deal.stage_id}", f"status#{deal.stage_status.value}"]
    facets += [f"tag#{fold(t)}" for t in deal.tags] + [f"contact#{c}" for c in deal.contact_ids]
    facets += [f"acl#{u}" for u in deal.access_list]
    entries = {
        (keys.deal_facet(tenant, f), deal.id): {"pk": keys.deal_facet(tenant, f), "sk": deal.id, **attributes}
        for f in facets
    }
    if deal.expected_close_date:
        pk, sk = keys.deal_facet(tenant, "close"), keys.deal_by_close(deal.expected_close_date.isoformat(), deal.id)
        entries[(pk, sk)] = {"pk": pk, "sk": sk, **attributes}
    return entries
