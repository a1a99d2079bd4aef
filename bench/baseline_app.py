"""A bare Chalice app with the same big dependencies as the CRM (chalice,
boto3, pydantic) and nothing else: the floor that `import app` is compared to
by bench/cold_start.py."""

from __future__ import annotations

import boto3  # noqa: F401  (imported for its import cost, like the real app)
from chalice import Chalice
from pydantic import BaseModel

app = Chalice(app_name="baseline")


class Health(BaseModel):
    status: str


@app.route("/health")
def health() -> dict[str, str]:
    return Health(status="ok").model_dump()
