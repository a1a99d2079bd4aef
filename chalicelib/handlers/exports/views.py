"""The pydantic models of the exports API (answers, query models): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from chalicelib.domain.shared.model import Model


class JobStarted(Model):
    job_id: str
    status_url: str
