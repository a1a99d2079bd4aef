"""Currencies (SET-1, SET-2): the ISO 4217 list, the tenant's default
currency, manual exchange rates, and conversion with exact decimals.

- The currency list is ISO 4217 (the ``iso4217`` data package, which follows
  the maintenance agency's list) narrowed to the codes that CLDR (Babel) knows
  as legal tender somewhere today: no historic, fund or metal codes. Minor
  units are ISO's: CLDR's cash digits differ for some (AFN and ALL have 2 in
  ISO 4217, 0 in CLDR). Both are imported on first use only (cold start).
- Money is ``Decimal``, never float; rates travel as decimal strings.
- ``convert`` uses the direct rate, else the inverse of the reverse rate.
  Converting a set of amounts names every missing pair at once
  (``MissingRates``, 422), so reports can tell the admin what to add (REP-3).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, model_validator

from chalicelib.domain.shared.clock import Clock, utc_now
from chalicelib.domain.shared.errors import FieldError, Forbidden, TemporarilyUnavailable, ValidationFailed
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import Record

if TYPE_CHECKING:
    from chalicelib.domain.settings.ports import MoneySettingsStore

DEFAULT_CURRENCY = "EUR"
MAX_RATES = 300
RATE_DECIMALS = 10
RATE_INTEGER_DIGITS = 12


class Currency(Model):
    code: str
    name: str
    minor_units: int


@functools.cache
def _currencies() -> dict[str, Currency]:
    from babel.core import get_global
    from babel.numbers import get_currency_name, get_territory_currencies
    from iso4217 import Currency as Iso4217

    today = date.today()
    tender: set[str] = set()
    for territory in get_global("territory_currencies"):
        tender.update(get_territory_currencies(territory, start_date=today, tender=True, non_tender=False))
    iso = {c.code: c.exponent for c in Iso4217 if c.exponent is not None}
    return {
        code: Currency(code=code, name=get_currency_name(code, locale="en"), minor_units=iso[code])
        for code in sorted(tender & set(iso))
    }


def currencies() -> list[Currency]:
    """ISO 4217 currencies in use today, by code."""
    return list(_currencies().values())


def is_currency(code: str) -> bool:
    return code in _currencies()


def minor_units(code: str) -> int:
    """Digits after the decimal point (EUR 2, JPY 0, KWD 3)."""
    known = _currencies().get(code)
    if known is None:
        raise ValueError(f"unknown currency {code}")
    return known.minor_units


def round_money(amount: Decimal, code: str) -> Decimal:
    """Rounded half-up to the currency's minor unit."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(code)), rounding=ROUND_HALF_UP)


def _code(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _known_code(value: str) -> str:
    if len(value) != 3 or not value.isalpha() or not is_currency(value):
        raise ValueError("is not an ISO 4217 currency in use (see GET /v1/currencies)")
    return value


CurrencyCode = Annotated[
    str, BeforeValidator(_code), AfterValidator(_known_code), Field(description="ISO 4217 code", examples=["EUR"])
]


def parse_rate(value: str) -> Decimal:
    """A rate as a Decimal: > 0, at most 12 integer digits and 10 decimals."""
    message = f'must be a decimal string greater than 0 with at most {RATE_DECIMALS} decimals, e.g. "0.92"'
    text = value.strip()
    if not text or not all(c.isdigit() or c == "." for c in text) or text.count(".") > 1:
        raise ValueError(message)
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise ValueError(message) from None
    whole, _, decimals = text.partition(".")
    if (
        rate <= 0
        or len(decimals) > RATE_DECIMALS
        or len(whole.lstrip("0")) > RATE_INTEGER_DIGITS
        or (text.endswith(".") or text.startswith("."))
    ):
        raise ValueError(message)
    return rate


def _rate_text(value: str) -> str:
    parse_rate(value)
    return value.strip()


RateText = Annotated[
    str,
    AfterValidator(_rate_text),
    Field(description="Units of `to` per unit of `from`, a decimal string", examples=["0.92"]),
]


class ExchangeRate(Model):
    """1 `from` = `rate` `to`."""

    model_config = ConfigDict(extra="forbid", validate_by_name=False, validate_by_alias=True, serialize_by_alias=True)

    from_: CurrencyCode = Field(alias="from")
    to: CurrencyCode
    rate: RateText

    @property
    def pair(self) -> tuple[str, str]:
        return self.from_, self.to

    @model_validator(mode="after")
    def _two_currencies(self) -> "ExchangeRate":
        if self.from_ == self.to:
            raise ValueError("from and to must be different currencies")
        return self


class CurrencySetting(Model):
    model_config = ConfigDict(extra="forbid")
    currency: CurrencyCode


class ExchangeRates(Model):
    model_config = ConfigDict(extra="forbid")
    rates: list[ExchangeRate] = Field(max_length=MAX_RATES, description="The whole set; it replaces the stored one.")

    @model_validator(mode="after")
    def _unique_pairs(self) -> "ExchangeRates":
        seen: set[tuple[str, str]] = set()
        for rate in self.rates:
            if rate.pair in seen:
                raise ValueError(f"the pair {rate.from_} -> {rate.to} appears more than once")
            seen.add(rate.pair)
        return self


class MoneySettings(Record):
    """The tenant's default currency and its exchange rates (one versioned item)."""

    currency: str = DEFAULT_CURRENCY
    rates: list[ExchangeRate] = Field(default_factory=list)


# ---- conversion ----

Rates = Iterable[ExchangeRate] | Mapping[tuple[str, str], Decimal]


def rate_table(rates: Rates) -> dict[tuple[str, str], Decimal]:
    if isinstance(rates, Mapping):
        if any(isinstance(rate, float) for rate in rates.values()):
            raise TypeError("rates are Decimal (or decimal strings), never float")
        return {pair: Decimal(rate) for pair, rate in rates.items()}
    return {rate.pair: parse_rate(rate.rate) for rate in rates}


def rate_for(from_code: str, to_code: str, rates: Rates) -> Decimal | None:
    """Units of ``to_code`` per unit of ``from_code``: 1 for the same
    currency, the direct rate, else the inverse of the reverse rate."""
    if from_code == to_code:
        return Decimal(1)
    table = rate_table(rates)
    if (from_code, to_code) in table:
        return table[(from_code, to_code)]
    reverse = table.get((to_code, from_code))
    if reverse:
        with localcontext() as context:
            context.prec = 34
            return Decimal(1) / reverse
    return None


class MissingRates(ValidationFailed):
    """Amounts could not be converted: these (from, to) pairs have no rate."""

    title = "Exchange rates missing"

    def __init__(self, pairs: Iterable[tuple[str, str]]):
        self.pairs = sorted(set(pairs))
        listed = ", ".join(f"{a} -> {b}" for a, b in self.pairs)
        super().__init__(
            f"No exchange rate for {listed}; an admin adds them with PUT /v1/exchange-rates.",
            errors=[FieldError("rates", f"no rate for {a} -> {b} (nor {b} -> {a})") for a, b in self.pairs],
        )


def convert(amount: Decimal, from_code: str, to_code: str, rates: Rates) -> Decimal:
    """``amount`` in ``from_code`` expressed in ``to_code`` (not rounded:
    round the result with ``round_money`` where it is shown or stored)."""
    rate = rate_for(from_code, to_code, rates)
    if rate is None:
        raise MissingRates([(from_code, to_code)])
    with localcontext() as context:
        context.prec = 34
        return Decimal(amount) * rate


def convert_all(amounts: Iterable[tuple[Decimal, str]], to_code: str, rates: Rates) -> list[Decimal]:
    """Each (amount, currency) in ``to_code``; MissingRates names every pair
    without a rate, not just the first."""
    table = rate_table(rates)
    items = list(amounts)
    missing = {(code, to_code) for _, code in items if rate_for(code, to_code, table) is None}
    if missing:
        raise MissingRates(missing)
    return [convert(amount, code, to_code, table) for amount, code in items]


# ---- the tenant's settings ----


class CurrencySettings:
    def __init__(self, store: MoneySettingsStore, clock: Clock = utc_now):
        self._store = store
        self._clock = clock

    def get(self, principal: Principal) -> MoneySettings:
        """Every CRM user reads them (deals and reports need them)."""
        found = self._store.get(principal.tenant_id)
        if found is None:  # a tenant from before this feature
            self.seed(principal)
            found = self._store.get(principal.tenant_id)
            if found is None:  # seeded just now (by this request or a concurrent one): cannot happen
                raise TemporarilyUnavailable("The currency settings are being set up; please retry.")
        return found

    def set_currency(
        self, principal: Principal, request: CurrencySetting, *, expected_version: int | None
    ) -> MoneySettings:
        self._require_admin(principal)
        self.get(principal)
        return self._store.update(
            principal.tenant_id,
            {"currency": request.currency},
            expected_version=expected_version,
            at=self._clock(),
            by=principal.user_id,
        )

    def set_rates(self, principal: Principal, request: ExchangeRates, *, expected_version: int | None) -> MoneySettings:
        self._require_admin(principal)
        self.get(principal)
        rates = [rate.model_dump(mode="json") for rate in request.rates]
        return self._store.update(
            principal.tenant_id,
            {"rates": rates},
            expected_version=expected_version,
            at=self._clock(),
            by=principal.user_id,
        )

    def seed(self, owner: Principal) -> None:
        now = self._clock()
        self._store.create(
            owner.tenant_id,
            MoneySettings(
                id="money", created_at=now, created_by=owner.user_id, updated_at=now, updated_by=owner.user_id
            ),
        )

    @staticmethod
    def _require_admin(principal: Principal) -> None:
        if not principal.is_admin:
            raise Forbidden("Only owners and admins change the currency settings.")
