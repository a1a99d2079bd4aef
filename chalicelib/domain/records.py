"""What every stored record shares: id, version and who changed it when."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    # Storage adds its key attributes to items; records ignore them on the way back.
    model_config = ConfigDict(extra="ignore")

    id: str
    version: int = 1
    created_at: datetime
    created_by: str | None = None
    updated_at: datetime
    updated_by: str | None = None
