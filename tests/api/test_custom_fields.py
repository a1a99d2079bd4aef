"""Custom fields (SET-8, CON-4): definitions through the API, usage
counters, and their place in the OpenAPI description. Value checks alone are
tests/unit/test_custom_field_values.py."""

import json
import re
from typing import Any

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel, ConfigDict

from chalicelib.domain.settings.custom_fields import custom_field_values
from chalicelib.domain.shared.errors import Conflict, ValidationFailed
from tests.conftest import bearer
from tests.unit.test_custom_field_values import DEFINITIONS


def create(api, tenant, body, token=None):
    status, field, _ = api.call("POST", "/v1/custom-fields", body, headers=bearer(token or tenant.owner_token))
    assert status == 201, field
    return field


def hold(tenant_id, before, after, definitions=()):
    """What a record's transaction does with its custom field values."""
    from chalicelib.storage.dynamo.table import Table
    from chalicelib.storage.settings.custom_fields import field_usage_ops

    Table().transact(field_usage_ops(tenant_id, before, after, definitions=definitions))


def get_field(api, tenant, field_id):
    return api.call("GET", f"/v1/custom-fields/{field_id}", headers=bearer(tenant.owner_token))[1]


def test_admins_define_fields_and_everyone_reads_them(api, tenant):
    _, user_token = tenant.add_user("u@acme.example")
    body = {"entity": "contact", "label": "Nickname", "type": "text"}
    assert api.call("POST", "/v1/custom-fields", body, headers=bearer(user_token))[0] == 403
    nickname = create(api, tenant, body)
    assert (
        nickname["entity"],
        nickname["type"],
        nickname["options"],
        nickname["order"],
        nickname["in_use"],
        nickname["version"],
    ) == ("contact", "text", [], 1, 0, 1)
    size = create(api, tenant, {"entity": "person", "label": "Size", "type": "select", "options": ["S", "M"]})
    second = create(api, tenant, {"entity": "contact", "label": "Section", "type": "heading"})
    create(api, tenant, {"entity": "deal", "label": "Source", "type": "text"})
    assert second["order"] == 2 and size["order"] == 1, "order counts within an entity"
    status, page, _ = api.call("GET", "/v1/custom-fields", headers=bearer(user_token))
    assert status == 200 and page["next_cursor"] is None
    assert [f["label"] for f in page["items"]] == ["Nickname", "Section", "Size", "Source"]
    status, page, _ = api.call("GET", "/v1/custom-fields?entity=person", headers=bearer(user_token))
    assert [f["label"] for f in page["items"]] == ["Size"]
    assert api.call("GET", "/v1/custom-fields?entity=invoice", headers=bearer(user_token))[0] == 422
    assert api.call("GET", f"/v1/custom-fields/{size['id']}", headers=bearer(user_token))[1] == size


@pytest.mark.parametrize(
    "body, field",
    [
        ({"entity": "person", "label": "Size", "type": "select"}, "body"),
        ({"entity": "person", "label": "Size", "type": "select", "options": []}, "body"),
        ({"entity": "person", "label": "Size", "type": "select", "options": ["S", "s"]}, "body"),
        ({"entity": "person", "label": "Nick", "type": "text", "options": ["a"]}, "body"),
        ({"entity": "invoice", "label": "Nick", "type": "text"}, "entity"),
        ({"entity": "person", "label": "Nick", "type": "number"}, "type"),
        ({"entity": "person", "label": "  ", "type": "text"}, "label"),
    ],
)
def test_invalid_definitions_are_422(api, tenant, body, field):
    status, problem, _ = api.call("POST", "/v1/custom-fields", body, headers=bearer(tenant.owner_token))
    assert status == 422 and field in {e["field"] for e in problem["errors"]}


def test_changes_name_their_version(api, tenant):
    owner = bearer(tenant.owner_token)
    field = create(api, tenant, {"entity": "deal", "label": "Source", "type": "text"})
    path = f"/v1/custom-fields/{field['id']}"
    assert api.call("PATCH", path, {"label": "Origin"}, headers=owner)[0] == 428
    status, changed, headers = api.call("PATCH", path, {"label": "Origin"}, headers={**owner, "If-Match": '"1"'})
    assert status == 200 and changed["label"] == "Origin" and headers["etag"] == '"2"'
    assert api.call("PATCH", path, {"label": "Stale"}, headers={**owner, "If-Match": '"1"'})[0] == 412
    _, user_token = tenant.add_user("u@acme.example")
    assert api.call("PATCH", path, {"label": "Mine"}, headers=bearer(user_token, **{"If-Match": '"2"'}))[0] == 403
    assert api.call("DELETE", path, headers=bearer(user_token))[0] == 403


def test_select_options_only_grow_while_in_use(api, tenant):
    owner = bearer(tenant.owner_token)
    field = create(api, tenant, {"entity": "contact", "label": "Size", "type": "select", "options": ["S", "M"]})
    path = f"/v1/custom-fields/{field['id']}"
    hold(tenant.id, {}, {field["id"]: "S"})
    assert get_field(api, tenant, field["id"])["in_use"] == 1
    assert get_field(api, tenant, field["id"])["version"] == 1, "holding a value is not an edit"
    status, changed, _ = api.call("PATCH", path, {"options": ["M", "S", "L"]}, headers={**owner, "If-Match": '"1"'})
    assert status == 200 and changed["options"] == ["M", "S", "L"]
    status, problem, _ = api.call("PATCH", path, {"options": ["S", "L"]}, headers={**owner, "If-Match": '"2"'})
    assert status == 409 and "M" in problem["detail"] and "1 record" in problem["detail"]
    status, problem, _ = api.call("PATCH", path, {"type": "text"}, headers={**owner, "If-Match": '"2"'})
    assert status == 409 and "type" in problem["detail"]
    # Once no record holds a value, anything goes.
    hold(tenant.id, {field["id"]: "S"}, {field["id"]: None})
    status, changed, _ = api.call("PATCH", path, {"options": ["XL"]}, headers={**owner, "If-Match": '"2"'})
    assert status == 200 and changed["options"] == ["XL"]
    status, changed, _ = api.call("PATCH", path, {"type": "textarea"}, headers={**owner, "If-Match": '"3"'})
    assert status == 200 and (changed["type"], changed["options"]) == ("textarea", [])
    status, problem, _ = api.call("PATCH", path, {"type": "select"}, headers={**owner, "If-Match": '"4"'})
    assert status == 422 and problem["errors"][0]["field"] == "options"


def test_a_record_validated_against_an_older_definition_fails(api, tenant):
    """A first value is conditional on the definition version it was checked
    against: an option removed meanwhile cannot slip in."""
    from chalicelib.bootstrap import container
    from chalicelib.domain.shared.principal import Principal, Role

    principal = Principal(tenant_id=tenant.id, user_id=tenant.owner_id, role=Role.OWNER)
    field = create(api, tenant, {"entity": "contact", "label": "Size", "type": "select", "options": ["S", "M"]})
    definitions = container().custom_fields.for_scope(principal, "person")
    assert container().custom_fields.validate(principal, "person", {field["id"]: "M"}) == {field["id"]: "M"}
    api.call(
        "PATCH",
        f"/v1/custom-fields/{field['id']}",
        {"options": ["S"]},
        headers=bearer(tenant.owner_token, **{"If-Match": '"1"'}),
    )
    with pytest.raises(Conflict):
        hold(tenant.id, {}, {field["id"]: "M"}, definitions)
    assert get_field(api, tenant, field["id"])["in_use"] == 0
    # Against the current definition it works; unknown fields are 422.
    hold(tenant.id, {}, {field["id"]: "S"}, container().custom_fields.for_scope(principal, "person"))
    with pytest.raises(ValidationFailed) as failed:
        hold(tenant.id, {}, {"01NOSUCHFIELD": "x"})
    assert failed.value.errors[0].field == "custom_fields.01NOSUCHFIELD"


def test_changed_values_change_no_counter(api, tenant):
    from chalicelib.storage.settings.custom_fields import field_usage_ops

    a = create(api, tenant, {"entity": "contact", "label": "A", "type": "text"})["id"]
    b = create(api, tenant, {"entity": "contact", "label": "B", "type": "text"})["id"]
    assert field_usage_ops(tenant.id, {a: "x"}, {a: "y"}) == []
    ops = field_usage_ops(tenant.id, {a: "x"}, {b: "y"})
    assert [op.add for op in ops] == [{"in_use": -1}, {"in_use": 1}]


def test_a_field_in_use_cannot_be_deleted(api, tenant):
    owner = bearer(tenant.owner_token)
    field = create(api, tenant, {"entity": "case", "label": "Venue", "type": "text"})
    path = f"/v1/custom-fields/{field['id']}"
    hold(tenant.id, None, {field["id"]: "Berlin"})
    status, problem, _ = api.call("DELETE", path, headers=owner)
    assert status == 409 and "1 record" in problem["detail"]
    hold(tenant.id, {field["id"]: "Berlin"}, None)
    assert api.call("DELETE", path, headers={**owner, "If-Match": '"2"'})[0] == 412
    assert api.call("DELETE", path, headers=owner)[0] == 204
    assert api.call("GET", path, headers=owner)[0] == 404
    assert api.call("DELETE", path, headers=owner)[0] == 404
    assert api.call("GET", "/v1/custom-fields", headers=owner)[1]["items"] == []
    with pytest.raises(ValidationFailed):
        hold(tenant.id, None, {field["id"]: "Hamburg"})


def test_fields_of_another_tenant_are_not_found(api, tenant, other_tenant):
    field = create(api, tenant, {"entity": "deal", "label": "Source", "type": "text"})
    other = bearer(other_tenant.owner_token, **{"If-Match": '"1"'})
    path = f"/v1/custom-fields/{field['id']}"
    assert api.call("GET", path, headers=other)[0] == 404
    assert api.call("PATCH", path, {"label": "Pwned"}, headers=other)[0] == 404
    assert api.call("DELETE", path, headers=other)[0] == 404
    assert api.call("GET", "/v1/custom-fields", headers=other)[1]["items"] == []
    assert get_field(api, tenant, field["id"])["label"] == "Source"


# ---- OpenAPI ----


class PersonProbe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    first_name: str
    custom_fields: dict[str, Any] = custom_field_values("person")


class LooseProbe(BaseModel):
    custom_fields: dict[str, Any] | None = None


def probe_document():
    from chalicelib.handlers.http.openapi import document

    base = document()
    doc = {
        **base,
        "components": {
            **base["components"],
            "schemas": {
                **base["components"]["schemas"],
                "PersonProbe": PersonProbe.model_json_schema(ref_template="#/components/schemas/{model}"),
                "LooseProbe": LooseProbe.model_json_schema(ref_template="#/components/schemas/{model}"),
            },
        },
    }
    return doc


def validate_changed_schemas(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Validate as OpenAPI 3.1 what augmenting changed: the changed schemas and
    every schema they reach by $ref, in a document of their own. (The whole
    document, which test_api_service validates as served, takes seconds.)"""
    schemas = after["components"]["schemas"]
    changed = [name for name, schema in schemas.items() if schema != before["components"]["schemas"].get(name)]
    assert changed, "augmenting changed nothing"
    reachable: set[str] = set()
    todo = list(changed)
    while todo:
        name = todo.pop()
        if name not in reachable:
            reachable.add(name)
            todo.extend(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schemas[name])))
    validate(
        {
            "openapi": after["openapi"],
            "info": after["info"],
            "paths": {},
            "components": {"schemas": {name: schemas[name] for name in sorted(reachable)}},
        }
    )


def test_the_helper_types_the_fields_that_apply(api):
    from chalicelib.handlers.http.openapi_custom_fields import augment

    doc = probe_document()
    untouched = repr(doc)
    result = augment(doc, DEFINITIONS)
    assert repr(doc) == untouched, "the cached document is never changed"
    typed = result["components"]["schemas"]["PersonProbe"]["properties"]["custom_fields"]
    assert set(typed["properties"]) == {"nickname", "notes", "size", "birthday"}, "person and contact fields"
    assert typed["additionalProperties"] is False
    assert typed["properties"]["nickname"] == {
        "title": "Nickname",
        "description": "Nickname",
        "type": ["string", "null"],
        "maxLength": 1000,
    }
    assert typed["properties"]["notes"]["maxLength"] == 10000
    assert typed["properties"]["size"]["enum"] == ["S", "M", "L", None]
    assert typed["properties"]["birthday"]["format"] == "date"
    loose = result["components"]["schemas"]["LooseProbe"]["properties"]["custom_fields"]
    branch = next(b for b in loose["anyOf"] if b.get("type") == "object")
    assert set(branch["properties"]) == {"nickname", "notes", "size", "vip", "birthday", "budget"}
    assert branch["properties"]["vip"]["type"] == ["boolean", "null"]
    assert "(deal)" in branch["properties"]["budget"]["description"]
    validate_changed_schemas(doc, result)


def test_openapi_with_a_token_lists_the_tenants_fields(api, tenant, other_tenant, monkeypatch):
    from chalicelib.handlers.http import openapi

    doc = probe_document()
    monkeypatch.setattr(openapi, "document", lambda: doc)
    size = create(api, tenant, {"entity": "person", "label": "Shoe size", "type": "select", "options": ["41", "42"]})
    create(api, tenant, {"entity": "deal", "label": "Source", "type": "text"})
    status, spec, headers = api.call("GET", "/openapi.json", headers=bearer(tenant.owner_token))
    assert status == 200 and "authorization" in headers["vary"].lower()
    prop = spec["components"]["schemas"]["PersonProbe"]["properties"]["custom_fields"]
    assert prop["properties"] == {
        size["id"]: {
            "title": "Shoe size",
            "description": "Shoe size",
            "type": ["string", "null"],
            "enum": ["41", "42", None],
        }
    }
    validate_changed_schemas(doc, spec)
    probed = spec
    # Without a token, with a bad one, or for another tenant: not these fields.
    for headers in ({}, bearer("crm_session.a.b.c.d"), bearer(other_tenant.owner_token)):
        status, spec, _ = api.call("GET", "/openapi.json", headers=headers)
        assert status == 200
        assert not spec["components"]["schemas"]["PersonProbe"]["properties"]["custom_fields"].get("properties")
    # The real document with a token is valid too: it is the one validated above
    # without the two probe schemas (validating it again took as long as the rest).
    monkeypatch.undo()
    status, spec, _ = api.call("GET", "/openapi.json", headers=bearer(tenant.owner_token))
    assert status == 200
    schemas = {k: v for k, v in probed["components"]["schemas"].items() if k not in ("PersonProbe", "LooseProbe")}
    assert spec == {**probed, "components": {**probed["components"], "schemas": schemas}}
    assert "/v1/settings/deal-stages/order" in spec["paths"] and "/v1/custom-fields/{field_id}" in spec["paths"]
