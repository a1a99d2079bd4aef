"""The pydantic models of the service endpoints (health): imported
lazily by its routes (chalicelib/lazy.py, cold start)."""

from __future__ import annotations

from chalicelib.domain.shared.model import Model


class Health(Model):
    status: str
