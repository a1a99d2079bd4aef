"""Settings (SET-1..4, SET-7..10): the settings lists, currencies and exchange
rates, custom fields. Every CRM user reads; owners and admins change.

The five settings lists share one machinery; their routes are generated from
the list specs (domain/settings/lists.py), each with its own request and
answer shapes so that the OpenAPI description is exact per list.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import BaseModel, Field, create_model

from chalicelib.bootstrap import container
from chalicelib.domain.settings.list_specs import LIST_SPECS, ListSpec  # the routes are made from the specs
from chalicelib.handlers.http.routing import Call, route
from chalicelib.lazy import later, lazy_imports, resolve

with lazy_imports():
    from chalicelib.domain.settings.currency import CurrencySetting, ExchangeRates, currencies
    from chalicelib.domain.settings.custom_fields import CustomFieldChanges, CustomFieldQuery, NewCustomField
    from chalicelib.domain.settings.lists import ListEntry, NewOrder
    from chalicelib.handlers.settings.views import (
        ContactTypeView,
        CurrencySettingView,
        CurrencyView,
        CustomFieldView,
        DealStageView,
        EntryView,
        ExchangeRatesView,
        HistoryCategoryView,
        NoQuery,
        ReplaceQuery,
        TaskCategoryView,
        TemperatureView,
    )


bp = Blueprint(__name__)
TAG = "Settings"
FIELDS_TAG = "Custom fields"


# ---- settings lists ----


VIEWS: dict[str, type[EntryView]] = {
    "contact-types": ContactTypeView,
    "temperatures": TemperatureView,
    "history-categories": HistoryCategoryView,
    "task-categories": TaskCategoryView,
    "deal-stages": DealStageView,
}


def _page_model(name: str, item: type[BaseModel]) -> type[BaseModel]:
    """The list envelope for a list answered whole: next_cursor is always null."""
    return create_model(
        name,
        items=(list[item], ...),  # type: ignore[valid-type]
        next_cursor=(str | None, Field(description="Always null: the list is answered whole.")),
    )


def _register_list(spec: ListSpec) -> None:
    view = VIEWS[spec.name]
    # Made on first use, like the views (cold start).
    page = later(lambda: _page_model(view.__name__.removesuffix("View") + "List", resolve(view)))
    path = f"/v1/settings/{spec.name}"
    plural = spec.name.replace("-", " ")
    snake = spec.name.replace("-", "_")

    def listed(entries: list[ListEntry]) -> Any:
        return page(items=[view.of(e) for e in entries], next_cursor=None)

    def list_entries(call: Call) -> Any:
        return listed(container().settings_lists.list(call.caller, spec.name))

    def create_entry(call: Call) -> Any:
        return view.of(container().settings_lists.create(call.caller, spec.name, call.body))

    def get_entry(entry_id: str, call: Call) -> Any:
        return view.of(container().settings_lists.get(call.caller, spec.name, entry_id))

    def update_entry(entry_id: str, call: Call) -> Any:
        return view.of(
            container().settings_lists.update(
                call.caller, spec.name, entry_id, call.body, expected_version=call.expected_version()
            )
        )

    def delete_entry(entry_id: str, call: Call) -> None:
        container().settings_lists.delete(
            call.caller,
            spec.name,
            entry_id,
            expected_version=call.optional_version(),
            replacement=getattr(call.query, "replace_with", None),
        )

    def reorder_entries(call: Call) -> Any:
        return listed(container().settings_lists.reorder(call.caller, spec.name, call.body.ids))

    for function, verb in (
        (list_entries, "list"),
        (create_entry, "create"),
        (get_entry, "get"),
        (update_entry, "update"),
        (delete_entry, "delete"),
        (reorder_entries, "reorder"),
    ):
        function.__name__ = f"{verb}_{snake}"

    delete_note = (
        "An entry in use cannot be deleted (409 says by how many records), nor the last entry of the "
        "list. If-Match is optional."
    )
    if spec.kept:
        delete_note += " The last won and the last lost stage stay."
    if spec.replaceable:
        delete_note += (
            " A category in use is deleted by naming its replacement with ?replace_with=<id>: it is "
            "retired and its tasks move to the replacement."
        )
    route(bp, path, "GET", summary=f"The {plural}, in order", tag=TAG, response=page)(list_entries)
    route(
        bp,
        path,
        "POST",
        summary=f"Add a {spec.title} at the end (owner/admin)",
        tag=TAG,
        body=spec.new,
        response=view,
        status=201,
        errors=(409,),
    )(create_entry)
    route(
        bp,
        f"{path}/order",
        "PUT",
        summary=f"Reorder the {plural} (owner/admin)",
        tag=TAG,
        body=NewOrder,
        response=page,
        errors=(409,),
        description="`ids` must name every entry of the list exactly once.",
    )(reorder_entries)
    route(bp, f"{path}/{{entry_id}}", "GET", summary=f"One {spec.title}", tag=TAG, response=view, errors=(404,))(
        get_entry
    )
    route(
        bp,
        f"{path}/{{entry_id}}",
        "PATCH",
        summary=f"Change a {spec.title} (owner/admin)",
        tag=TAG,
        body=spec.changes,
        response=view,
        if_match=True,
        errors=(404, 409),
    )(update_entry)
    route(
        bp,
        f"{path}/{{entry_id}}",
        "DELETE",
        summary=f"Delete a {spec.title} (owner/admin)",
        tag=TAG,
        query=ReplaceQuery if spec.replaceable else NoQuery,
        status=204,
        errors=(404, 409, 412),
        description=delete_note,
    )(delete_entry)


for _spec in LIST_SPECS.values():
    _register_list(_spec)


# ---- currencies and exchange rates ----


CurrencyList = later(lambda: _page_model("CurrencyList", resolve(CurrencyView)))


@route(bp, "/v1/currencies", "GET", summary="ISO 4217 currencies in use today", tag=TAG, response=CurrencyList)
def list_currencies() -> Any:
    return CurrencyList(items=[CurrencyView(**c.model_dump()) for c in currencies()], next_cursor=None)


@route(
    bp, "/v1/settings/currency", "GET", summary="The default currency (SET-1)", tag=TAG, response=CurrencySettingView
)
def get_currency(call: Call) -> CurrencySettingView:
    return CurrencySettingView.of(container().currency_settings.get(call.caller))


@route(
    bp,
    "/v1/settings/currency",
    "PUT",
    summary="Set the default currency (owner/admin)",
    tag=TAG,
    body=CurrencySetting,
    response=CurrencySettingView,
    errors=(412,),
    description="If-Match is optional. The version is shared with the exchange rates (one settings item).",
)
def put_currency(call: Call) -> CurrencySettingView:
    return CurrencySettingView.of(
        container().currency_settings.set_currency(call.caller, call.body, expected_version=call.optional_version())
    )


@route(bp, "/v1/exchange-rates", "GET", summary="Manual exchange rates (SET-2)", tag=TAG, response=ExchangeRatesView)
def get_exchange_rates(call: Call) -> ExchangeRatesView:
    return ExchangeRatesView.of(container().currency_settings.get(call.caller))


@route(
    bp,
    "/v1/exchange-rates",
    "PUT",
    summary="Replace the exchange rates (owner/admin)",
    tag=TAG,
    body=ExchangeRates,
    response=ExchangeRatesView,
    errors=(412,),
    description=(
        "1 `from` = `rate` `to`. A conversion uses the direct rate, else the inverse of the reverse "
        "one. If-Match is optional; the version is shared with the default currency."
    ),
)
def put_exchange_rates(call: Call) -> ExchangeRatesView:
    return ExchangeRatesView.of(
        container().currency_settings.set_rates(call.caller, call.body, expected_version=call.optional_version())
    )


# ---- custom fields ----


CustomFieldList = later(lambda: _page_model("CustomFieldList", resolve(CustomFieldView)))


@route(
    bp,
    "/v1/custom-fields",
    "GET",
    summary="Custom fields, by entity and order",
    tag=FIELDS_TAG,
    query=CustomFieldQuery,
    response=CustomFieldList,
)
def list_custom_fields(call: Call) -> Any:
    fields = container().custom_fields.list(call.caller, call.query.entity)
    return CustomFieldList(items=[CustomFieldView.of(f) for f in fields], next_cursor=None)


@route(
    bp,
    "/v1/custom-fields",
    "POST",
    summary="Define a custom field (owner/admin)",
    tag=FIELDS_TAG,
    body=NewCustomField,
    response=CustomFieldView,
    status=201,
    errors=(409,),
    description="`contact` fields apply to persons and companies, `person`/`company` fields to that kind only.",
)
def create_custom_field(call: Call) -> CustomFieldView:
    return CustomFieldView.of(container().custom_fields.create(call.caller, call.body))


@route(
    bp,
    "/v1/custom-fields/{field_id}",
    "GET",
    summary="One custom field",
    tag=FIELDS_TAG,
    response=CustomFieldView,
    errors=(404,),
)
def get_custom_field(field_id: str, call: Call) -> CustomFieldView:
    return CustomFieldView.of(container().custom_fields.get(call.caller, field_id))


@route(
    bp,
    "/v1/custom-fields/{field_id}",
    "PATCH",
    summary="Change a custom field (owner/admin)",
    tag=FIELDS_TAG,
    body=CustomFieldChanges,
    response=CustomFieldView,
    if_match=True,
    errors=(404, 409),
    description="While records hold values, the type cannot change and select options may only grow (409).",
)
def update_custom_field(field_id: str, call: Call) -> CustomFieldView:
    return CustomFieldView.of(
        container().custom_fields.update(call.caller, field_id, call.body, expected_version=call.expected_version())
    )


@route(
    bp,
    "/v1/custom-fields/{field_id}",
    "DELETE",
    summary="Delete a custom field (owner/admin)",
    tag=FIELDS_TAG,
    status=204,
    errors=(404, 409, 412),
    description="A field that records hold values for cannot be deleted (409). If-Match is optional.",
)
def delete_custom_field(field_id: str, call: Call) -> None:
    container().custom_fields.delete(call.caller, field_id, expected_version=call.optional_version())
