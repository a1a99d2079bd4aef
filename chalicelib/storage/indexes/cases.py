"""A case's index entries.

Facets (pk ``T#t#KX#<facet>``, sk the case id: newest first is a descending
Query): all, closed#<true|false>, tag#<folded>, contact#<participant>.
"""

from __future__ import annotations

from chalicelib.domain.cases.models import Case
from chalicelib.domain.shared.text import fold
from chalicelib.storage.dynamo import keys
from chalicelib.storage.indexes import Entries, Entry


def index_entries(case: Case) -> Entries:
    """Every index entry of a case, by key."""
    attributes: Entry = {
        "rid": case.id,
        "access_list": list(case.access_list),
        "created_by": case.created_by,
        "tags": [fold(t) for t in case.tags],
        "contact_ids": case.contact_ids,
        "closed": case.closed,
    }
    facets = ["all", f"closed#{'true' if case.closed else 'false'}"]
    facets += [f"tag#{fold(t)}" for t in case.tags] + [f"contact#{c}" for c in case.contact_ids]
    return {
        (keys.case_facet(case.tenant_id, f), case.id): {
            "pk": keys.case_facet(case.tenant_id, f),
            "sk": case.id,
            **attributes,
        }
        for f in facets
    }
