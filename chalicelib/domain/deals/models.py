"""Deals (DEA-1..8): title, contacts, budget, dates, responsible user, stage,
probability, access list, tags, custom values; projects started from a deal.

Decisions:
- ``stage_id`` is set on create (default: the first open stage by order) and
  changed only by ``PUT /v1/deals/{deal_id}/stage`` (DEA-4: the stage change
  is its own operation, recorded in the history). A PATCH naming
  ``stage_id`` is refused (422, naming PUT .../stage).
- ``probability`` starts as the stage's and is copied again on every stage
  change; a PATCH may set it by hand in between. Setting the stage a deal
  already has re-copies the probability and is recorded like any change.
- Deleting a deal deletes its history and files (parents cascades); its
  tasks stay, unlinked from it; its projects stay, with ``deal_id`` cleared. Deleting a contact removes it
  from deals (main contact and members); merging moves it to the survivor.
- Budget: ``amount`` is a non-negative decimal string with at most the
  currency's minor-unit digits; ``currency`` defaults to the tenant's;
  ``periods`` is required (> 0) unless ``bid_type`` is fixed, and null for
  fixed (switching to fixed clears it). ``value`` = amount (fixed) or amount x
  periods, rounded to the currency's minor unit; null without an amount.
- ``stage_status`` in an answer is the status of the stage at the deal's last
  stage write; the ``stage_status`` list filter and the pipeline use the
  stages' current status, so changing a stage's status in the settings is
  seen at once.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from chalicelib.domain.records.listed_access import MAX_LISTED, MAX_MEMBERS, Title, list_access
from chalicelib.domain.settings.currency import CurrencyCode, minor_units, round_money
from chalicelib.domain.settings.lists import StageStatus
from chalicelib.domain.shared.access import ListAccess
from chalicelib.domain.shared.errors import FieldError, ValidationFailed
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.records import NotNull, Record, omittable

MAX_TAGS = 10
_AMOUNT = re.compile(r"^\d{1,15}(\.\d{1,4})?$")

TagName = Annotated[str, Field(min_length=1, max_length=50)]
Id = Annotated[str, Field(min_length=1, max_length=40)]


class BidType(StrEnum):
    FIXED = "fixed"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class _DealFields(Model):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[Title, NotNull] = omittable()
    contact_id: Id | None = Field(default=None, description="The main contact (person or company)")
    member_ids: list[Id] | None = Field(default=None, max_length=MAX_MEMBERS, description="Further contacts")
    description: Annotated[str, Field(max_length=10_000)] | None = None
    amount: str | None = Field(default=None, description='Decimal string, e.g. "12000.00"', examples=["12000.00"])
    currency: Annotated[CurrencyCode, NotNull] = omittable(description="ISO 4217; default: the tenant's currency")
    bid_type: Annotated[BidType, NotNull] = omittable(description="Default fixed")
    periods: int | None = Field(default=None, gt=0, le=100_000, description="Number of periods (not for fixed)")
    expected_close_date: date | None = None
    responsible_id: Annotated[Id, NotNull] = omittable(description="A user; default: the creator")
    probability: Annotated[int, NotNull, Field(ge=0, le=100)] = omittable()
    access_list: list[Id] | None = Field(
        default=None, max_length=MAX_LISTED, description="Users; empty: public. The creator joins a non-empty list."
    )
    tags: list[TagName] | None = Field(default=None, max_length=MAX_TAGS)
    custom_fields: dict[str, Any] | None = Field(
        default=None, description="Values by custom field id; null removes one"
    )

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: str | None) -> str | None:
        if value is not None and not _AMOUNT.match(value):
            raise ValueError('must be a non-negative decimal string such as "1200.50"')
        return value


class NewDeal(_DealFields):
    title: Title
    stage_id: Id | None = Field(default=None, description="deal-stages entry; default: the first open stage")


class DealChanges(_DealFields):
    """PATCH: only the fields sent. The stage changes through PUT .../stage."""

    @model_validator(mode="before")
    @classmethod
    def _stage_has_its_own_operation(cls, data: Any) -> Any:
        if isinstance(data, dict) and "stage_id" in data:
            raise ValueError(
                "stage_id changes through PUT /v1/deals/{id}/stage (it copies the stage's probability, "
                "sets the close date and records the change in the history)"
            )
        return data


class StageChange(Model):
    model_config = ConfigDict(extra="forbid")

    stage_id: Id


class Deal(Record):
    tenant_id: str
    title: str
    contact_id: str | None = None
    member_ids: list[str] = Field(default_factory=list)
    description: str | None = None
    amount: str | None = None
    currency: str
    bid_type: BidType = BidType.FIXED
    periods: int | None = None
    expected_close_date: date | None = None
    actual_close_date: date | None = None
    responsible_id: str
    stage_id: str
    stage_status: StageStatus
    probability: int
    access_list: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)

    @property
    def value(self) -> Decimal | None:
        return deal_value(self.amount, self.currency, self.bid_type, self.periods)

    @property
    def weighted(self) -> Decimal:
        return (self.value or Decimal(0)) * self.probability / 100

    def access_record(self) -> ListAccess:
        return list_access(self)

    @property
    def contact_ids(self) -> list[str]:
        """The main contact and the members, each once."""
        return list(dict.fromkeys([c for c in [self.contact_id, *self.member_ids] if c]))


def deal_value(amount: str | None, currency: str, bid_type: BidType, periods: int | None) -> Decimal | None:
    """SPEC: fixed bid = amount; otherwise amount x number of periods."""
    if amount is None:
        return None
    value = Decimal(amount) if bid_type == BidType.FIXED else Decimal(amount) * (periods or 0)
    return round_money(value, currency)


def check_budget(deal: Deal, sent: dict[str, Any]) -> Deal:
    """The budget rules on the deal as it would be saved."""
    errors = []
    periods = deal.periods
    if deal.bid_type == BidType.FIXED:
        if sent.get("periods") is not None:
            errors.append(FieldError("periods", "a fixed bid has no periods"))
        periods = None
    elif not periods:
        errors.append(FieldError("periods", f"required (> 0) for a bid per {deal.bid_type.value}"))
    if deal.amount is not None and "." in deal.amount:
        decimals = len(deal.amount.split(".")[1])
        if decimals > minor_units(deal.currency):
            errors.append(FieldError("amount", f"{deal.currency} has {minor_units(deal.currency)} decimal places"))
    if errors:
        raise ValidationFailed("The budget is not valid.", errors=errors)
    return deal.model_copy(update={"periods": periods})


class DealQuery(Model):
    """GET /v1/deals filters (DEA-8)."""

    model_config = ConfigDict(extra="forbid")

    responsible_id: Id | None = None
    stage_id: Id | None = None
    stage_status: StageStatus | None = None
    tag: TagName | None = None
    contact_id: Id | None = Field(default=None, description="Deals naming this contact, as main contact or member")
    close_from: date | None = Field(default=None, description="Expected close date from (inclusive)")
    close_to: date | None = Field(default=None, description="Expected close date to (inclusive)")

    def filters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def entry_matches(entry: dict[str, Any], query: DealQuery) -> bool:
    """Does an index entry pass the filters its partition did not apply?"""
    from chalicelib.domain.shared.text import fold

    if query.responsible_id and entry.get("responsible_id") != query.responsible_id:
        return False
    if query.stage_id and entry.get("stage_id") != query.stage_id:
        return False
    if query.tag and fold(query.tag) not in (entry.get("tags") or []):
        return False
    if query.contact_id and query.contact_id not in (entry.get("contact_ids") or []):
        return False
    if query.close_from or query.close_to:
        close = entry.get("close")
        if not close:
            return False
        if query.close_from and close < query.close_from.isoformat():
            return False
        if query.close_to and close > query.close_to.isoformat():
            return False
    return True


# ---- projects (DEA-7) ----


class NewProject(Model):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Annotated[str, Field(max_length=10_000)] | None = None
    member_ids: list[Id] = Field(default_factory=list, max_length=MAX_MEMBERS, description="Users")


class Project(Record):
    tenant_id: str
    deal_id: str | None = Field(default=None, description="The deal it was started from (null once deleted)")
    title: str
    description: str | None = None
    member_ids: list[str] = Field(default_factory=list)
