"""Exports (ADM-1): the request and the job message."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from chalicelib.domain.shared.model import Model


class NewExport(Model):
    model_config = ConfigDict(extra="forbid")

    entities: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="contacts, deals, tasks, cases (anyone: what they can see), invoices and history (admins), "
        "and what later features add; default: everything the caller may export",
    )
    filters: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='Per entity, the filters of its list endpoint, e.g. {"contacts": {"tag": "Lead"}}',
    )


class ExportRun(Model):
    """Job message: go on with an export from its checkpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["exports.run"] = "exports.run"
    tenant_id: str
    job_id: str
