"""Custom fields appear in the OpenAPI description of the records they extend.

``GET /openapi.json`` is public and generic. Called with a valid bearer
token, every component schema with a ``custom_fields`` property gets the
caller's tenant's field definitions there, as typed properties named by
field id (text/textarea: string with maxLength, select: enum, checkbox:
boolean, date: string/date; headings take no value and are left out), each
with the label as description. A record model marks which fields apply with
``custom_field_values(scope)`` (domain/settings/custom_fields.py); an unmarked
``custom_fields`` property lists every field of the tenant.

The cached base document is never changed: the answer is a deep copy. The
cost is one Query for the tenant's fields, and none when no schema has a
``custom_fields`` property.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from chalicelib.domain.settings.custom_fields import (
    ENTITY_SCOPES,
    OPENAPI_SCOPE_KEY,
    TEXT_LIMITS,
    CustomField,
    FieldType,
    kinds_for,
)
from chalicelib.domain.shared.errors import CrmError

PROPERTY = "custom_fields"
_ONLY = {"person": "persons only", "company": "companies only"}


def _targets(document: dict[str, Any]) -> list[str]:
    schemas = document.get("components", {}).get("schemas", {})
    return [
        name
        for name, schema in schemas.items()
        if isinstance(schema, dict) and isinstance(schema.get("properties", {}).get(PROPERTY), dict)
    ]


def field_schema(field: CustomField, scope: str | None = None) -> dict[str, Any] | None:
    """The JSON Schema of one field's value (null removes it); None for headings."""
    description = field.label
    if scope in (None, "contact") and field.entity.value in _ONLY:
        description += f" ({_ONLY[field.entity.value]})"
    elif scope is None:
        description += f" ({field.entity.value})"
    base: dict[str, Any] = {"title": field.label, "description": description}
    if field.type in TEXT_LIMITS:
        return {**base, "type": ["string", "null"], "maxLength": TEXT_LIMITS[field.type]}
    if field.type == FieldType.SELECT:
        return {**base, "type": ["string", "null"], "enum": [*field.options, None]}
    if field.type == FieldType.CHECKBOX:
        return {**base, "type": ["boolean", "null"]}
    if field.type == FieldType.DATE:
        return {**base, "type": ["string", "null"], "format": "date"}
    return None


def _object_branch(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema inside the property (itself, or a branch of anyOf/oneOf)."""
    if schema.get("type") == "object":
        return schema
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key, []):
            if isinstance(branch, dict) and branch.get("type") == "object":
                return branch
    return None


def augment(document: dict[str, Any], fields: Iterable[CustomField]) -> dict[str, Any]:
    """A copy of ``document`` whose ``custom_fields`` properties list ``fields``."""
    targets = _targets(document)
    if not targets:
        return document
    fields = [f for f in fields if f.active]
    result = copy.deepcopy(document)
    for name in targets:
        prop = result["components"]["schemas"][name]["properties"][PROPERTY]
        scope = prop.get(OPENAPI_SCOPE_KEY)
        scope = scope if scope in ENTITY_SCOPES else None
        kinds = set(kinds_for(scope)) if scope else None
        typed = {
            f.id: s
            for f in fields
            if kinds is None or f.entity.value in kinds
            if (s := field_schema(f, scope)) is not None
        }
        branch = _object_branch(prop)
        if branch is None:
            continue
        branch["properties"] = typed
        branch["additionalProperties"] = False
        prop["description"] = (prop.get("description") or "Values by custom field id.").rstrip(
            "."
        ) + ". The fields listed are this tenant's (see /v1/custom-fields)."
    return result


def for_caller(document: dict[str, Any], authorization: str | None) -> dict[str, Any]:
    """The document for whoever sent ``authorization``: augmented for a valid
    bearer token of a CRM user, the generic one otherwise."""
    if not authorization or not _targets(document):
        return document
    from chalicelib.bootstrap import container
    from chalicelib.domain.identity.module_access import ensure_module_access

    try:
        principal, tenant = container().auth.authenticate(authorization)
        ensure_module_access(principal, tenant)
    except CrmError:
        return document
    return augment(document, container().custom_fields.list(principal))
