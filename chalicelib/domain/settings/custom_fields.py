"""Custom fields (SET-8, CON-4, DEA-5, CAS-1): admins define extra fields per
entity; records carry their values in ``custom_fields: {<field id>: value}``.

- Entities: ``contact`` fields apply to persons and companies alike,
  ``person`` and ``company`` fields only to that kind; ``deal``, ``case``.
- Types: text (up to 1,000 characters), textarea (10,000), select (one of the
  field's options), checkbox (true/false), date (ISO date, stored
  ``YYYY-MM-DD``), heading (a section title in forms; takes no value).
- ``validate_values`` is the one check of submitted values; records that
  carry custom fields call it (through ``CustomFields.validate``). ``null``
  removes a value; an empty text is no value either.
- Each field counts the records that hold a value for it (``in_use``),
  changed inside the record's own transaction
  (``storage.custom_fields.field_usage_ops``). While a field is in use its
  type cannot change, its select options may only grow, and it cannot be
  deleted (409). These writes are conditional on ``in_use = 0``; a record's
  first value for a field is conditional on the field version it was
  validated against, so neither side can slip past the other.
- Every CRM user reads the definitions (to fill the values); owners and
  admins change them.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import Record

if TYPE_CHECKING:
    from chalicelib.domain.settings.ports import CustomFieldStore

# A record's write holds one counter update per field that gains or loses a
# value, next to its own items, in one transaction (at most 100 operations).
MAX_FIELDS_PER_ENTITY = 30
MAX_OPTIONS = 100


class FieldType(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    SELECT = "select"
    CHECKBOX = "checkbox"
    DATE = "date"
    HEADING = "heading"


class FieldEntity(StrEnum):
    CONTACT = "contact"
    PERSON = "person"
    COMPANY = "company"
    DEAL = "deal"
    CASE = "case"


class FieldState(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"  # a transient tombstone; storage removes it


TEXT_LIMITS = {FieldType.TEXT: 1000, FieldType.TEXTAREA: 10000}

# The entities whose fields a record of this kind carries.
ENTITY_SCOPES: dict[str, tuple[str, ...]] = {
    "contact": ("contact", "person", "company"),  # any contact (schemas shared by both kinds)
    "person": ("contact", "person"),
    "company": ("contact", "company"),
    "deal": ("deal",),
    "case": ("case",),
}

# The marker a record schema's ``custom_fields`` property carries, so the
# OpenAPI description can list the tenant's fields there (see custom_field_values).
OPENAPI_SCOPE_KEY = "x-custom-fields-scope"


def kinds_for(scope: str) -> tuple[str, ...]:
    """The field entities that apply to a record of this kind (person, company, deal, case)."""
    try:
        return ENTITY_SCOPES[scope]
    except KeyError:
        raise ValueError(f"unknown custom field scope {scope}") from None


def custom_field_values(scope: str, **field_options: Any) -> Any:
    """The pydantic field for a record's ``custom_fields``:

        custom_fields: dict[str, Any] = custom_field_values("contact")

    It marks the schema so that ``GET /openapi.json`` with a bearer token lists
    the tenant's fields applying to ``scope`` as typed properties."""
    kinds_for(scope)
    description = field_options.pop(
        "description", "Values by custom field id (see /v1/custom-fields); null removes a value."
    )
    return Field(
        default_factory=dict, description=description, json_schema_extra={OPENAPI_SCOPE_KEY: scope}, **field_options
    )


Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Option = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class CustomField(Record):
    entity: FieldEntity
    label: str
    type: FieldType
    options: list[str] = Field(default_factory=list)
    order: int
    in_use: int = 0
    state: FieldState = FieldState.ACTIVE

    @property
    def active(self) -> bool:
        return self.state == FieldState.ACTIVE


def _check_options(field_type: FieldType | None, options: list[str] | None) -> None:
    if field_type == FieldType.SELECT:
        if not options:
            raise ValueError("a select field needs at least one option")
    elif options:
        raise ValueError("only select fields have options")
    if options:
        folded = [o.casefold() for o in options]
        if len(set(folded)) != len(folded):
            raise ValueError("options must be unique (ignoring case)")


class NewCustomField(Model):
    model_config = ConfigDict(extra="forbid")
    entity: FieldEntity
    label: Label
    type: FieldType
    options: list[Option] | None = Field(default=None, max_length=MAX_OPTIONS, description="select only")

    @model_validator(mode="after")
    def _options_fit_the_type(self) -> "NewCustomField":
        _check_options(self.type, self.options)
        return self


class CustomFieldChanges(Model):
    model_config = ConfigDict(extra="forbid")
    label: Label | None = None
    type: FieldType | None = Field(default=None, description="only while no record holds a value")
    options: list[Option] | None = Field(
        default=None, max_length=MAX_OPTIONS, description="The full new list; while in use it may only grow."
    )
    order: int | None = Field(default=None, ge=0, le=10000)


class CustomFieldQuery(Model):
    model_config = ConfigDict(extra="forbid")
    entity: FieldEntity | None = Field(default=None, description="only the fields defined for this entity")


# ---- values ----


def _value_error(field_id: str, message: str) -> FieldError:
    return FieldError(f"custom_fields.{field_id}", message)


def _checked(definition: CustomField, value: object) -> tuple[object, str | None]:
    """(normalised value, None) or (None, error message)."""
    kind = definition.type
    if kind == FieldType.HEADING:
        return None, "a heading takes no value"
    if kind in TEXT_LIMITS:
        if not isinstance(value, str):
            return None, "must be a string"
        if len(value) > TEXT_LIMITS[kind]:
            return None, f"must be at most {TEXT_LIMITS[kind]} characters"
        return (value if value.strip() else None), None
    if kind == FieldType.SELECT:
        if not isinstance(value, str) or value not in definition.options:
            return None, "must be one of: " + ", ".join(definition.options)
        return value, None
    if kind == FieldType.CHECKBOX:
        if not isinstance(value, bool):
            return None, "must be true or false"
        return value, None
    if kind == FieldType.DATE:
        try:
            if not isinstance(value, str):
                raise ValueError
            return date.fromisoformat(value.strip()).isoformat(), None
        except ValueError:
            return None, "must be a date, YYYY-MM-DD"
    return None, "has an unknown type"


def validate_values(
    definitions: Iterable[CustomField], entity_kinds: Iterable[str], values: Mapping[str, Any]
) -> dict[str, Any]:
    """Check submitted custom field values against the definitions.

    ``entity_kinds``: the entities whose fields apply (``kinds_for("person")``
    = contact and person fields). Answers the normalised values; ``None``
    for a field means "remove its value". Every problem is reported at once,
    as ``custom_fields.<field id>``."""
    by_id = {d.id: d for d in definitions if d.active}
    kinds = {str(k) for k in entity_kinds}
    result: dict[str, Any] = {}
    errors: list[FieldError] = []
    for field_id, value in values.items():
        definition = by_id.get(field_id)
        if definition is None:
            errors.append(_value_error(field_id, "no such custom field"))
            continue
        if definition.entity.value not in kinds:
            errors.append(_value_error(field_id, f"is a {definition.entity.value} field; it does not apply here"))
            continue
        if value is None:
            result[field_id] = None
            continue
        normalised, problem = _checked(definition, value)
        if problem:
            errors.append(_value_error(field_id, problem))
        else:
            result[field_id] = normalised
    if errors:
        raise ValidationFailed("Some custom field values are invalid.", errors=errors)
    return result


def merge_values(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The values after applying validated changes (None removes)."""
    merged = {**current, **changes}
    return {k: v for k, v in merged.items() if v is not None}


# ---- definitions ----


def _sorted(fields: Iterable[CustomField]) -> list[CustomField]:
    entity_rank = {e.value: i for i, e in enumerate(FieldEntity)}
    return sorted(fields, key=lambda f: (entity_rank[f.entity.value], f.order, f.id))


class CustomFields:
    def __init__(self, store: CustomFieldStore, clock: Clock = utc_now, max_per_entity: int = MAX_FIELDS_PER_ENTITY):
        self._store = store
        self._clock = clock
        self._max = max_per_entity

    def list(self, principal: Principal, entity: FieldEntity | str | None = None) -> list[CustomField]:
        """The tenant's fields (of one entity), by entity and order: one Query."""
        fields = self._store.list_fields(principal.tenant_id)
        if entity is not None:
            fields = [f for f in fields if f.entity.value == str(entity)]
        return _sorted(fields)

    def for_scope(self, principal: Principal, scope: str) -> builtins.list[CustomField]:
        kinds = set(kinds_for(scope))
        return [f for f in self.list(principal) if f.entity.value in kinds]

    def validate(self, principal: Principal, scope: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """``validate_values`` against the tenant's current definitions, for a
        record of kind ``scope`` (person, company, deal, case)."""
        if not values:
            return {}
        return validate_values(self._store.list_fields(principal.tenant_id), kinds_for(scope), values)

    def get(self, principal: Principal, field_id: str) -> CustomField:
        found = self._store.get_field(principal.tenant_id, field_id)
        if found is None or not found.active:
            raise NotFound("The custom field does not exist.")
        return found

    def create(self, principal: Principal, request: NewCustomField) -> CustomField:
        self._require_admin(principal)
        same_entity = self.list(principal, request.entity)
        if len(same_entity) >= self._max:
            raise Conflict(f"An entity has at most {self._max} custom fields.")
        now = self._clock()
        field = CustomField(
            id=new_id(),
            entity=request.entity,
            label=request.label,
            type=request.type,
            options=request.options or [],
            order=max((f.order for f in same_entity), default=0) + 1,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        self._store.add_field(principal.tenant_id, field)
        return field

    def update(
        self, principal: Principal, field_id: str, changes: CustomFieldChanges, *, expected_version: int
    ) -> CustomField:
        self._require_admin(principal)
        before = self._store.get_field(principal.tenant_id, field_id, consistent=True)
        if before is None or not before.active:
            raise NotFound("The custom field does not exist.")
        if before.version != expected_version:
            raise PreconditionFailed(
                f"The custom field is at version {before.version}; reload it and apply the change again."
            )
        update = {k: v for k, v in changes.model_dump(exclude_unset=True).items() if v is not None}
        new_type = FieldType(update.get("type", before.type))
        if new_type != FieldType.SELECT and "options" not in update:
            update["options"] = []
        options = update.get("options", before.options)
        try:
            _check_options(new_type, options)
        except ValueError as err:
            raise ValidationFailed(
                "The options do not fit the field type.", errors=[FieldError("options", str(err))]
            ) from None
        removed = (
            [o for o in before.options if o not in options]
            if before.type == FieldType.SELECT and new_type == FieldType.SELECT
            else []
        )
        needs_unused = new_type != before.type or bool(removed)
        if needs_unused and before.in_use > 0:
            what = (
                "its type cannot change"
                if new_type != before.type
                else "its options may only grow (removed: " + ", ".join(removed) + ")"
            )
            raise Conflict(f'The custom field "{before.label}" holds values in {_records(before.in_use)}; {what}.')
        after = before.model_copy(
            update={**update, "type": new_type, "updated_at": self._clock(), "updated_by": principal.user_id}
        )
        self._store.save_field(
            principal.tenant_id,
            after,
            expected_version=expected_version,
            require_unused=needs_unused,
            changed=Conflict(
                f'The custom field "{before.label}" came into use or changed meanwhile; reload it and try again.'
            ),
        )
        return after.model_copy(update={"version": expected_version + 1})

    def delete(self, principal: Principal, field_id: str, *, expected_version: int | None = None) -> None:
        self._require_admin(principal)
        field = self._store.get_field(principal.tenant_id, field_id, consistent=True)
        if field is None or not field.active:
            raise NotFound("The custom field does not exist.")
        if expected_version is not None and field.version != expected_version:
            raise PreconditionFailed(f"The custom field is at version {field.version}; reload it.")
        if field.in_use > 0:
            raise Conflict(
                f'The custom field "{field.label}" holds values in {_records(field.in_use)}; remove those values first.'
            )
        self._store.delete_field(
            principal.tenant_id,
            field,
            at=self._clock(),
            by=principal.user_id,
            changed=Conflict(
                f'The custom field "{field.label}" came into use or changed meanwhile; reload it and try again.'
            ),
        )

    @staticmethod
    def _require_admin(principal: Principal) -> None:
        if not principal.is_admin:
            raise Forbidden("Only owners and admins change custom fields.")


def _records(count: int) -> str:
    return "1 record" if count == 1 else f"{count} records"
