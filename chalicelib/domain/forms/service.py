"""Managing web forms (WEB-1, WEB-2, SET-14): owners and admins only.

A form's settings are checked when they are saved (its fields fit its kind
and name custom fields of that kind; managers and the users to notify are
active users of the tenant), so a submission never fails on them. Its public
key is made here and changes only by ``rotate_key``: the old key answers
404 from then on, so a key that spammers found is retired at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.contacts.models import clean_tags
from chalicelib.domain.forms.models import (
    FieldName,
    NewWebForm,
    WebForm,
    WebFormChanges,
    check_fields,
    new_key,
    origin_of,
)
from chalicelib.domain.forms.ports import CustomFieldDefinitions, TenantDirectory, WebFormStore
from chalicelib.domain.forms.stamps import Stamps
from chalicelib.domain.identity.models import UserStatus
from chalicelib.domain.settings.custom_fields import CustomField, FieldType
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import FieldError, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import require_version


@dataclass(frozen=True)
class FormLayout:
    """What a rendered form needs: the form, the custom fields it asks (by id)
    and a fresh fill-time stamp."""

    form: WebForm
    custom_fields: dict[str, CustomField]
    stamp: str


def custom_fields_of(form: WebForm, definitions: list[CustomField]) -> dict[str, CustomField]:
    """The active, askable definitions of the custom fields a form asks."""
    wanted = set(form.custom_field_ids())
    return {d.id: d for d in definitions if d.id in wanted and d.active and d.type != FieldType.HEADING}


class WebForms:
    def __init__(
        self,
        store: WebFormStore,
        directory: TenantDirectory,
        custom_fields: CustomFieldDefinitions,
        stamps: Stamps,
        clock: Clock = utc_now,
        make_key: Callable[[], str] = new_key,
    ):
        self._store = store
        self._directory = directory
        self._custom_fields = custom_fields
        self._stamps = stamps
        self._clock = clock
        self._make_key = make_key

    # ---- reading ----

    def list(self, principal: Principal, page: PageRequest) -> Slice[WebForm]:
        _require_admin(principal)
        return self._store.list_forms(principal.tenant_id, page)

    def get(self, principal: Principal, form_id: str) -> WebForm:
        _require_admin(principal)
        form = self._store.get(principal.tenant_id, form_id)
        if form is None:
            raise NotFound("The web form does not exist.")
        return form

    def layout(self, principal: Principal, form_id: str) -> FormLayout:
        """WEB-2: what the snippet is rendered from."""
        form = self.get(principal, form_id)
        definitions = self._custom_fields.for_scope(principal, form.kind.value)
        return FormLayout(form, custom_fields_of(form, definitions), self._stamps.issue(form.id, self._clock()))

    # ---- writing ----

    def create(self, principal: Principal, request: NewWebForm) -> WebForm:
        _require_admin(principal)
        now = self._clock()
        sent = request.model_dump(exclude_unset=True)
        form = WebForm(
            id=new_id(),
            tenant_id=principal.tenant_id,
            name=request.name,
            kind=request.kind,
            fields=request.fields,
            tags=clean_tags(request.tags or []),
            access=request.access or WebForm.model_fields["access"].default,
            manager_ids=list(dict.fromkeys(request.manager_ids or [principal.user_id])),
            notify_user_ids=list(dict.fromkeys(request.notify_user_ids or [])),
            return_url=request.return_url,
            allowed_origins=(
                request.allowed_origins
                if "allowed_origins" in sent and request.allowed_origins is not None
                else [origin_of(request.return_url)]
            ),
            consent_text=request.consent_text,
            thank_you_text=request.thank_you_text,
            enabled=True if request.enabled is None else request.enabled,
            key=self._make_key(),
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        self._check(principal, form)
        return self._store.create(form, by=principal.user_id)

    def update(self, principal: Principal, form_id: str, changes: WebFormChanges, *, expected_version: int) -> WebForm:
        before = self._read_for_write(principal, form_id, expected_version)
        sent = changes.model_dump(exclude_unset=True)
        update: dict[str, Any] = {}
        for name, value in sent.items():
            if name == "fields" and value is not None:
                update["fields"] = changes.fields
                problems = check_fields(before.kind, changes.fields or [])
                if problems:
                    raise ValidationFailed(
                        "The fields do not fit the form.", errors=[FieldError("fields", p) for p in problems]
                    )
            elif name == "tags":
                update["tags"] = clean_tags(value or [])
            elif name in ("notify_user_ids", "allowed_origins"):
                update[name] = list(dict.fromkeys(value or []))
            elif name == "manager_ids":
                if not value:
                    raise ValidationFailed(
                        "New contacts need a manager.", errors=[FieldError("manager_ids", "at least one user")]
                    )
                update[name] = list(dict.fromkeys(value))
            elif name in ("return_url",) and value is None:
                raise ValidationFailed("A form needs a return URL.", errors=[FieldError(name, "may not be null")])
            else:
                update[name] = value
        after = before.model_copy(update={**update, "updated_at": self._clock(), "updated_by": principal.user_id})
        self._check(principal, after)
        return self._store.update(before, after, by=principal.user_id)

    def rotate_key(self, principal: Principal, form_id: str, *, expected_version: int) -> WebForm:
        """A new public key; the old one stops working at once."""
        before = self._read_for_write(principal, form_id, expected_version)
        after = before.model_copy(
            update={"key": self._make_key(), "updated_at": self._clock(), "updated_by": principal.user_id}
        )
        return self._store.update(before, after, by=principal.user_id)

    def delete(self, principal: Principal, form_id: str, *, expected_version: int | None) -> None:
        form = self.get(principal, form_id)
        require_version(form, expected_version, "web form")
        self._store.delete(form, by=principal.user_id, at=self._clock())

    # ---- rules ----

    def _read_for_write(self, principal: Principal, form_id: str, expected_version: int) -> WebForm:
        form = self.get(principal, form_id)
        require_version(form, expected_version, "web form")
        return form

    def _check(self, principal: Principal, form: WebForm) -> None:
        errors: list[FieldError] = []
        wanted = list(dict.fromkeys([*form.manager_ids, *form.notify_user_ids]))
        found = {u.id: u for u in self._directory.get_users(principal.tenant_id, wanted)} if wanted else {}
        for name in ("manager_ids", "notify_user_ids"):
            for user_id in getattr(form, name):
                user = found.get(user_id)
                if user is None or user.status == UserStatus.DEACTIVATED:
                    errors.append(FieldError(name, f"unknown or inactive user {user_id}"))
        if form.custom_field_ids():
            usable = custom_fields_of(form, self._custom_fields.for_scope(principal, form.kind.value))
            for index, field in enumerate(form.fields):
                if field.field == FieldName.CUSTOM and field.custom_field_id not in usable:
                    errors.append(
                        FieldError(
                            f"fields.{index}.custom_field_id",
                            f"no custom field of a {form.kind.value} with this id (headings cannot be asked)",
                        )
                    )
        if errors:
            raise ValidationFailed("The web form has invalid settings.", errors=errors)


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only owners and admins manage web forms.")
