"""GET /v1/deals/pipeline: per stage count, converted sum and probability-
weighted sum; a missing rate is 422 naming the currencies; hidden private
deals are not counted; the aggregates follow every deal write."""

from tests.api.test_deals import create_deal, patch, set_stage, stages
from tests.conftest import bearer


def pipeline(api, token, expect=200):
    status, body, _ = api.call("GET", "/v1/deals/pipeline", headers=bearer(token))
    assert status == expect, body
    return body


def by_stage(body):
    return {s["name"]: s for s in body["stages"]}


def set_rates(api, token, rates):
    status, body, _ = api.call("PUT", "/v1/exchange-rates", {"rates": rates}, headers=bearer(token))
    assert status == 200, body


def test_conversion_weighting_and_stage_order(api, tenant):
    token = tenant.owner_token
    names = stages(api, token)
    proposal, won = names["Proposal"]["id"], names["Closed won"]["id"]
    set_rates(api, token, [{"from": "USD", "to": "EUR", "rate": "0.5"}, {"from": "EUR", "to": "GBP", "rate": "2"}])
    create_deal(api, token, amount="100.00", stage_id=proposal)  # 100 EUR, 75 %
    create_deal(
        api, token, amount="10.01", currency="USD", bid_type="hour", periods=3, stage_id=proposal
    )  # 30.03 USD = 15.015 EUR
    custom = create_deal(api, token, amount="50.00", currency="GBP", stage_id=proposal)  # 25 EUR (inverse rate)
    patch(api, token, custom, {"probability": 10})
    create_deal(api, token, amount="1", stage_id=won)
    create_deal(api, token)  # no budget: counted, 0
    body = pipeline(api, token)
    assert body["currency"] == "EUR"
    assert [s["name"] for s in body["stages"]] == list(names)  # stage order, every stage
    row = by_stage(body)["Proposal"]
    assert row["count"] == 3
    assert row["sum"] == "140.02"  # 100 + 15.015 + 25 = 140.015 -> half up
    # 100 x 0.75 + 15.015 x 0.75 + 25 x 0.10 = 75 + 11.26125 + 2.5
    assert row["weighted_sum"] == "88.76"
    won_row = by_stage(body)["Closed won"]
    assert (won_row["count"], won_row["sum"], won_row["weighted_sum"]) == (1, "1.00", "1.00")
    assert by_stage(body)["Initial contact"]["count"] == 1 and by_stage(body)["Initial contact"]["sum"] == "0.00"
    assert body["count"] == 5


def test_aggregates_follow_stage_changes_edits_and_deletes(api, tenant):
    token = tenant.owner_token
    names = stages(api, token)
    deal = create_deal(api, token, amount="200")
    moved = set_stage(api, token, deal, names["Negotiations"]["id"])
    body = by_stage(pipeline(api, token))
    assert body["Initial contact"]["count"] == 0 and body["Initial contact"]["sum"] == "0.00"
    assert body["Negotiations"]["count"] == 1 and body["Negotiations"]["weighted_sum"] == "180.00"
    edited = patch(api, token, moved, {"amount": "100", "bid_type": "day", "periods": 4})
    assert by_stage(pipeline(api, token))["Negotiations"]["sum"] == "400.00"
    status, _, _ = api.call("DELETE", f"/v1/deals/{edited['id']}", headers=bearer(token))
    assert status == 204
    assert pipeline(api, token)["count"] == 0


def test_missing_rate_is_422_naming_the_currencies(api, tenant):
    token = tenant.owner_token
    create_deal(api, token, amount="1", currency="USD")
    create_deal(api, token, amount="1", currency="CHF")
    create_deal(api, token, amount="1")
    problem = pipeline(api, token, expect=422)
    assert "USD -> EUR" in problem["detail"] and "CHF -> EUR" in problem["detail"]
    set_rates(api, token, [{"from": "USD", "to": "EUR", "rate": "0.9"}])
    problem = pipeline(api, token, expect=422)
    assert "CHF" in problem["detail"] and "USD" not in problem["detail"]


def test_only_deals_the_caller_may_see_are_counted(api, tenant):
    listed_id, listed = tenant.add_user("listed@acme.example")
    other_id, other = tenant.add_user("other@acme.example")
    admin_id, admin = tenant.add_user("admin@acme.example", role="admin")
    create_deal(api, tenant.owner_token, amount="10")  # public
    create_deal(api, tenant.owner_token, amount="100", access_list=[listed_id])  # private: owner + listed
    create_deal(api, other, amount="1000", access_list=[other_id])  # private to other
    first = "Initial contact"
    row = by_stage(pipeline(api, listed))[first]
    assert (row["count"], row["sum"]) == (2, "110.00")
    assert by_stage(pipeline(api, other))[first]["sum"] == "1010.00"
    assert by_stage(pipeline(api, admin))[first]["sum"] == "1110.00"
    assert by_stage(pipeline(api, tenant.owner_token))[first]["count"] == 3
