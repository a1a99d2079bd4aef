"""The index entries of every listed record type, and how a list reads them.

A listed record (contact, task, deal, case) is found through *index entries*:
one small item per facet it belongs to, keyed from storage/dynamo/keys.py and
carrying the attributes that filters and the access policy read
(storage/dynamo/indexed_store.py). What those entries are, and which
partition and sort-key range a query reads, is defined here once, without
boto3, for the DynamoDB stores and their in-memory twins (storage/memory)
alike: both list the same records in the same order by construction.
"""

from __future__ import annotations

from chalicelib.domain.shared.ports import Entry

# (pk, sk) of an index entry.
EntryKey = tuple[str, str]
Entries = dict[EntryKey, Entry]

__all__ = ["Entries", "Entry", "EntryKey"]
