"""What every stored record shares: id, version and who changed it when."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BeforeValidator, ConfigDict, Field

from chalicelib.domain.shared.errors import PreconditionFailed
from chalicelib.domain.shared.model import Model


class Record(Model):
    # Storage adds its key attributes to items; records ignore them on the way back.
    model_config = ConfigDict(extra="ignore")

    id: str
    version: int = 1
    created_at: datetime
    created_by: str | None = None
    updated_at: datetime
    updated_by: str | None = None


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null: the record needs it (leave the field out to keep its value)")
    return value


# A field that may be left out but not cleared: ``Annotated[T, NotNull] = omittable()``
# (a default is not validated, an explicit null is: 422 naming the field).
NotNull = BeforeValidator(_not_null)


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # null is not a value of the field: the schema must not offer it


def omittable(**field: Any) -> Any:
    """The default of a ``NotNull`` field: absent means "keep" (or the record's default)."""
    return Field(default=None, json_schema_extra=_without_default, **field)


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


def require_version(record: Versioned, expected_version: int | None, what: str = "record") -> None:
    """The version a client names (If-Match) must be the one just read.

    Stores read strongly consistently before a write and condition the write
    on the version they read, so a client holding an older version can never
    overwrite a newer change: it is told to reload instead (412)."""
    if expected_version is not None and record.version != expected_version:
        raise PreconditionFailed(
            f"The {what} is at version {record.version}, not {expected_version}; reload it and apply the change again."
        )
