"""The pydantic models of the settings API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from chalicelib.domain.settings.currency import ExchangeRate, MoneySettings
from chalicelib.domain.settings.custom_fields import CustomField
from chalicelib.domain.settings.lists import ListEntry, StageStatus
from chalicelib.domain.shared.model import Model
from chalicelib.handlers.identity.views import RecordView


class EntryView(RecordView):
    name: str
    order: int
    in_use: int = Field(description="Records pointing at this entry; it cannot be deleted while this is above 0.")

    @classmethod
    def of(cls, entry: ListEntry) -> Any:
        return cls.model_validate(entry.model_dump())


class ContactTypeView(EntryView):
    pass


class TemperatureView(EntryView):
    color: str


class HistoryCategoryView(EntryView):
    pass


class TaskCategoryView(EntryView):
    icon: str | None = None


class DealStageView(EntryView):
    probability: int
    color: str
    status: StageStatus


class NoQuery(Model):
    model_config = ConfigDict(extra="forbid")


class ReplaceQuery(Model):
    model_config = ConfigDict(extra="forbid")
    replace_with: str | None = Field(
        default=None,
        max_length=40,
        description=("Another task category that takes over the tasks of this one; needed when it is in use."),
    )


class CurrencyView(Model):
    code: str
    name: str
    minor_units: int = Field(description="Digits after the decimal point (EUR 2, JPY 0)")


class CurrencySettingView(Model):
    currency: str
    version: int
    updated_at: datetime
    updated_by: str | None = None

    @classmethod
    def of(cls, settings: MoneySettings) -> "CurrencySettingView":
        return cls(
            currency=settings.currency,
            version=settings.version,
            updated_at=settings.updated_at,
            updated_by=settings.updated_by,
        )


class ExchangeRatesView(Model):
    rates: list[ExchangeRate]
    version: int
    updated_at: datetime
    updated_by: str | None = None

    @classmethod
    def of(cls, settings: MoneySettings) -> "ExchangeRatesView":
        return cls(
            rates=settings.rates,
            version=settings.version,
            updated_at=settings.updated_at,
            updated_by=settings.updated_by,
        )


class CustomFieldView(RecordView):
    entity: str
    label: str
    type: str
    options: list[str]
    order: int
    in_use: int = Field(description="Records holding a value for this field.")

    @classmethod
    def of(cls, field: CustomField) -> "CustomFieldView":
        return cls.model_validate(field.model_dump(mode="json"))
