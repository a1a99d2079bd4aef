"""The pydantic models of the forms API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict

from chalicelib.domain.forms.models import WebForm
from chalicelib.domain.shared.model import Model
from chalicelib.handlers.forms.answers import action_url
from chalicelib.handlers.http.routing import Call


class WebFormView(Model):
    id: str
    version: int
    name: str
    kind: str
    fields: list[dict[str, Any]]
    tags: list[str]
    access: str
    manager_ids: list[str]
    notify_user_ids: list[str]
    return_url: str
    allowed_origins: list[str]
    consent_text: str | None
    thank_you_text: str | None
    enabled: bool
    key: str
    submit_url: str
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    updated_by: str | None

    @classmethod
    def of(cls, form: WebForm, call: Call) -> "WebFormView":
        fields = [{**f.model_dump(mode="json"), "input_name": f.input_name} for f in form.fields]
        data = form.model_dump(mode="json", exclude={"tenant_id", "fields"})
        return cls(**data, fields=fields, submit_url=action_url(call, form.key))


class Variant(StrEnum):
    HTML = "html"
    JS = "js"


class SnippetQuery(Model):
    model_config = ConfigDict(extra="forbid")
    variant: Variant = Variant.HTML
