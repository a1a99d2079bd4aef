"""Cases (CAS-1..4; "Veranstaltungen": events, seminars, meetings): title,
participants (contacts), tags, custom values (scope "case"), an access list
(private exactly when non-empty; see domain/records/listed_access.py), files,
history and tasks through parents ("case"), close and reopen.

Decisions: ``closed`` changes only through POST .../close and .../reopen
(each writes a history system event in the same transaction); PATCH does not
take it. Closing a closed case (or reopening an open one) is a 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from chalicelib.domain.records.listed_access import MAX_LISTED, MAX_MEMBERS, Title, list_access
from chalicelib.domain.shared.access import ListAccess
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.records import NotNull, Record, omittable
from chalicelib.domain.shared.text import fold

MAX_TAGS = 10
TagName = Annotated[str, Field(min_length=1, max_length=50)]
Id = Annotated[str, Field(min_length=1, max_length=40)]


class _CaseFields(Model):
    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    member_ids: list[Id] | None = Field(default=None, max_length=MAX_MEMBERS, description="Participants (contacts)")
    access_list: list[Id] | None = Field(
        default=None, max_length=MAX_LISTED, description="Users; empty: public. The creator joins a non-empty list."
    )
    tags: list[TagName] | None = Field(default=None, max_length=MAX_TAGS)
    custom_fields: dict[str, Any] | None = Field(
        default=None, description="Values by custom field id; null removes one"
    )


class NewCase(_CaseFields):
    title: Title


class CaseChanges(_CaseFields):
    """PATCH: only the fields sent; ``closed`` changes through close/reopen."""

    title: Annotated[Title, NotNull] = omittable()


class Case(Record):
    tenant_id: str
    title: str
    member_ids: list[str] = Field(default_factory=list)
    access_list: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    closed: bool = False
    closed_at: datetime | None = None

    def access_record(self) -> ListAccess:
        return list_access(self)

    @property
    def contact_ids(self) -> list[str]:
        return list(dict.fromkeys(self.member_ids))


class CaseQuery(Model):
    """GET /v1/cases filters."""

    model_config = ConfigDict(extra="forbid")

    closed: bool | None = None
    contact_id: Id | None = Field(default=None, description="Cases with this participant")
    tag: TagName | None = None

    def filters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def entry_matches(entry: dict[str, Any], query: CaseQuery) -> bool:
    if query.closed is not None and bool(entry.get("closed")) != query.closed:
        return False
    if query.contact_id and query.contact_id not in (entry.get("contact_ids") or []):
        return False
    if query.tag and fold(query.tag) not in (entry.get("tags") or []):
        return False
    return True
