"""Currencies, the default currency and exchange rates through the API
(SET-1, SET-2). Conversion itself is tests/unit/test_currency_conversion.py."""

import json
from decimal import Decimal

import pytest

from chalicelib.domain.settings.currency import convert
from tests.conftest import bearer


def test_the_currency_list_is_iso_4217_in_use(api, tenant):
    status, body, _ = api.call("GET", "/v1/currencies", headers=bearer(tenant.owner_token))
    assert status == 200 and body["next_cursor"] is None
    found = {c["code"]: c for c in body["items"]}
    assert found["EUR"] == {"code": "EUR", "name": "Euro", "minor_units": 2}
    assert found["USD"]["minor_units"] == 2 and found["USD"]["name"] == "US Dollar"
    assert found["JPY"]["minor_units"] == 0
    assert "DEM" not in found and "XAU" not in found, "no historic or non-tender codes"
    assert [c["code"] for c in body["items"]] == sorted(found)
    assert api.call("GET", "/v1/currencies")[0] == 401


def test_the_default_currency_is_eur_and_admins_change_it(api, tenant):
    _, user_token = tenant.add_user("u@acme.example")
    status, body, headers = api.call("GET", "/v1/settings/currency", headers=bearer(user_token))
    assert status == 200 and body["currency"] == "EUR" and headers["etag"] == f'"{body["version"]}"'
    assert api.call("PUT", "/v1/settings/currency", {"currency": "USD"}, headers=bearer(user_token))[0] == 403
    status, changed, _ = api.call(
        "PUT", "/v1/settings/currency", {"currency": " usd "}, headers=bearer(tenant.owner_token)
    )
    assert status == 200 and changed["currency"] == "USD" and changed["version"] == body["version"] + 1
    assert api.call("GET", "/v1/settings/currency", headers=bearer(user_token))[1]["currency"] == "USD"


@pytest.mark.parametrize("code", ["XYZ", "DEM", "EURO", "", 978, None])
def test_unknown_currencies_are_422(api, tenant, code):
    status, problem, _ = api.call(
        "PUT", "/v1/settings/currency", {"currency": code}, headers=bearer(tenant.owner_token)
    )
    assert status == 422 and problem["errors"][0]["field"] == "currency"


def test_currency_changes_with_a_stale_version_are_412(api, tenant):
    owner = bearer(tenant.owner_token)
    _, current, _ = api.call("GET", "/v1/settings/currency", headers=owner)
    version = f'"{current["version"]}"'
    status, _, _ = api.call("PUT", "/v1/settings/currency", {"currency": "GBP"}, headers={**owner, "If-Match": version})
    assert status == 200
    status, _, _ = api.call("PUT", "/v1/settings/currency", {"currency": "CHF"}, headers={**owner, "If-Match": version})
    assert status == 412
    # The rates share the settings item, hence the version.
    assert api.call("PUT", "/v1/exchange-rates", {"rates": []}, headers={**owner, "If-Match": version})[0] == 412
    assert api.call("GET", "/v1/settings/currency", headers=owner)[1]["currency"] == "GBP"


def test_exchange_rates_are_replaced_as_a_set(api, tenant):
    owner = bearer(tenant.owner_token)
    status, body, _ = api.call("GET", "/v1/exchange-rates", headers=owner)
    assert status == 200 and body["rates"] == []
    first = {
        "rates": [
            {"from": "USD", "to": "EUR", "rate": "0.92"},
            {"from": "gbp", "to": "EUR", "rate": "1.1700"},
            {"from": "EUR", "to": "JPY", "rate": "160.123456789"},
        ]
    }
    status, body, _ = api.call("PUT", "/v1/exchange-rates", first, headers=owner)
    assert status == 200
    assert body["rates"] == [
        {"from": "USD", "to": "EUR", "rate": "0.92"},
        {"from": "GBP", "to": "EUR", "rate": "1.1700"},
        {"from": "EUR", "to": "JPY", "rate": "160.123456789"},
    ]
    status, body, _ = api.call(
        "PUT", "/v1/exchange-rates", {"rates": [{"from": "CHF", "to": "EUR", "rate": "1.05"}]}, headers=owner
    )
    assert status == 200
    _, user_token = tenant.add_user("u@acme.example")
    status, read, _ = api.call("GET", "/v1/exchange-rates", headers=bearer(user_token))
    assert read["rates"] == [{"from": "CHF", "to": "EUR", "rate": "1.05"}] and read["version"] == body["version"]
    assert api.call("PUT", "/v1/exchange-rates", {"rates": []}, headers=bearer(user_token))[0] == 403
    # The stored strings convert exactly.
    from chalicelib.bootstrap import container
    from chalicelib.domain.shared.principal import Principal, Role

    principal = Principal(tenant_id=tenant.id, user_id=tenant.owner_id, role=Role.OWNER)
    settings = container().currency_settings.get(principal)
    assert convert(Decimal("10"), "CHF", "EUR", settings.rates) == Decimal("10.50")


@pytest.mark.parametrize(
    "rate, field",
    [
        ({"from": "USD", "to": "EUR", "rate": "0"}, "rates.0.rate"),
        ({"from": "USD", "to": "EUR", "rate": "-1"}, "rates.0.rate"),
        ({"from": "USD", "to": "EUR", "rate": "abc"}, "rates.0.rate"),
        ({"from": "USD", "to": "EUR", "rate": "1e3"}, "rates.0.rate"),
        ({"from": "USD", "to": "EUR", "rate": "0.12345678901"}, "rates.0.rate"),
        ({"from": "USD", "to": "EUR", "rate": 0.92}, "rates.0.rate"),
        ({"from": "USD", "to": "EUR", "rate": "NaN"}, "rates.0.rate"),
        ({"from": "USD", "to": "XYZ", "rate": "1"}, "rates.0.to"),
        ({"from": "USD", "to": "USD", "rate": "1"}, "rates.0"),
        ({"from": "USD", "to": "EUR"}, "rates.0.rate"),
        ({"from_": "USD", "to": "EUR", "rate": "1", "extra": 1}, "rates.0.extra"),
    ],
)
def test_invalid_rates_are_422_naming_the_field(api, tenant, rate, field):
    status, problem, _ = api.call("PUT", "/v1/exchange-rates", {"rates": [rate]}, headers=bearer(tenant.owner_token))
    assert status == 422, problem
    assert field in {e["field"] for e in problem["errors"]}


def test_a_pair_appears_once(api, tenant):
    body = {"rates": [{"from": "USD", "to": "EUR", "rate": "0.92"}, {"from": "USD", "to": "EUR", "rate": "0.93"}]}
    status, problem, _ = api.call("PUT", "/v1/exchange-rates", body, headers=bearer(tenant.owner_token))
    assert status == 422 and "USD -> EUR" in json.dumps(problem)
    # Both directions are two pairs.
    body["rates"][1] = {"from": "EUR", "to": "USD", "rate": "1.08"}
    assert api.call("PUT", "/v1/exchange-rates", body, headers=bearer(tenant.owner_token))[0] == 200


def test_money_settings_stay_with_their_tenant(api, tenant, other_tenant):
    api.call("PUT", "/v1/settings/currency", {"currency": "CHF"}, headers=bearer(tenant.owner_token))
    api.call(
        "PUT",
        "/v1/exchange-rates",
        {"rates": [{"from": "USD", "to": "CHF", "rate": "0.9"}]},
        headers=bearer(tenant.owner_token),
    )
    other = bearer(other_tenant.owner_token)
    assert api.call("GET", "/v1/settings/currency", headers=other)[1]["currency"] == "EUR"
    assert api.call("GET", "/v1/exchange-rates", headers=other)[1]["rates"] == []
