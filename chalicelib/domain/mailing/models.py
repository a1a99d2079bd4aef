"""Mass mailing (ADM-2): requests, the mailing record and per-recipient results."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.domain.contacts.models import ContactQuery
from chalicelib.domain.shared.access import ListAccess
from chalicelib.domain.shared.records import Record

MAX_SUBJECT = 998  # RFC 5322's line limit
MAX_BODY = 100_000
MAX_IDS = 10_000  # per request; a filter selects any number
MAX_FILES = 10

RecordId = Annotated[str, Field(pattern=r"^[0-9A-Za-z_-]{1,64}$")]


class MailingFilter(ContactQuery):
    """The contacts list's own filter (``GET /v1/contacts``): the same fields, the same meaning."""

    model_config = ConfigDict(extra="forbid")


class _Content(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=MAX_SUBJECT, description="A sandboxed jinja2 template")
    body: str = Field(min_length=1, max_length=MAX_BODY, description="A sandboxed jinja2 template (plain text)")
    file_ids: list[RecordId] = Field(default_factory=list, max_length=MAX_FILES, description="Attached to every mail")


class NewMailing(_Content):
    contact_ids: list[RecordId] | None = Field(default=None, max_length=MAX_IDS)
    filter: MailingFilter | None = Field(default=None, description="The contacts list filter")
    add_history: bool = Field(default=False, description="An e-mail history event on each recipient")

    @model_validator(mode="after")
    def _one_selection(self) -> "NewMailing":
        if (self.contact_ids is None) == (self.filter is None):
            raise ValueError("send either contact_ids or filter")
        if self.contact_ids is not None:
            self.contact_ids = list(dict.fromkeys(self.contact_ids))
            if not self.contact_ids:
                raise ValueError("contact_ids must not be empty")
        return self


class PreviewRequest(_Content):
    contact_id: RecordId


class Preview(BaseModel):
    contact_id: str
    to: str | None
    subject: str
    body: str
    headers: dict[str, str]
    suppressed: bool


class MailingStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


class RecipientStatus(StrEnum):
    SENT = "sent"
    SUPPRESSED = "suppressed"
    NO_ADDRESS = "no_address"
    FAILED = "failed"


COUNTED = tuple(s.value for s in RecipientStatus)


class Mailing(Record):
    tenant_id: str
    created_by: str
    creator_role: str
    creator_groups: list[str] = Field(default_factory=list)
    subject: str
    body: str
    file_ids: list[str] = Field(default_factory=list)
    add_history: bool = False
    contact_ids: list[str] | None = None
    filter: dict[str, Any] | None = None
    status: MailingStatus = MailingStatus.QUEUED
    total: int | None = None
    counts: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(COUNTED, 0))
    # The checkpoint: the next chunk's number and where it starts.
    chunk: int = 0
    position: dict[str, Any] | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def processed(self) -> int:
        return sum(self.counts.get(k, 0) for k in COUNTED)

    def access_record(self) -> ListAccess:
        # Private to its creator (admins see everything), like a background job.
        return ListAccess(access_list=frozenset({self.created_by}), created_by=self.created_by)


class RecipientResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    mailing_id: str
    contact_id: str
    status: RecipientStatus | None = None  # None: claimed, being sent
    reason: str | None = None
    at: datetime


class RecipientQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: RecipientStatus | None = None


class MailingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate_per_second: int = Field(
        default=14, ge=1, le=1000, description="Messages per second across all the tenant's mailings (SES: 14)"
    )


class Attachment(BaseModel):
    filename: str
    content_type: str
    data: bytes


class OutgoingMail(BaseModel):
    to: str
    subject: str
    text: str
    headers: dict[str, str]
    attachments: list[Attachment] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)


class MailingChunk(BaseModel):
    """The jobs-queue message of one chunk of a mailing (kind ``mailing.chunk``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = "mailing.chunk"
    tenant_id: str
    mailing_id: str
    chunk: int


class Bounce(BaseModel):
    """What SES tells about a message: a hard bounce or a complaint suppresses its addresses."""

    tenant_id: str
    addresses: list[str]
    permanent: bool
