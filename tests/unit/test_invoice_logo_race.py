"""Issue 19, fuzzing: a logo write that loses a race with another change of the
invoice settings is made again over the current settings; it never answers 412,
which belongs to a client's own stale If-Match (the logo routes take none)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from chalicelib.domain.invoices.settings import LOGO_SAVE_ATTEMPTS
from chalicelib.domain.shared.errors import Conflict, PreconditionFailed
from tests.unit.invoice_fakes import ADMIN, TENANT, world


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (10, 20, 30)).save(out, "PNG")
    return out.getvalue()


class _Racing:
    """Lets ``races`` saves lose to a concurrent change first (that change bumps the version)."""

    def __init__(self, store: Any, races: int):
        self.store, self.races, self.calls = store, races, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def save(self, tenant_id: str, settings: Any, *, expected_version: int | None) -> Any:
        self.calls += 1
        if self.calls <= self.races:
            current = self.store.get(tenant_id)
            self.store.save(
                tenant_id,
                current.model_copy(update={"company_name": f"changed {self.calls}"}),
                expected_version=current.version or None,
            )
            raise PreconditionFailed("The invoice settings changed since they were read; reload them.")
        return self.store.save(tenant_id, settings, expected_version=expected_version)


def test_a_logo_that_lost_a_race_is_saved_over_the_current_settings() -> None:
    w = world()
    w.settings.put_logo(ADMIN, _png())  # the settings exist: a concurrent change bumps their version
    w.settings._store = racing = _Racing(w.settings_store, races=1)
    saved = w.settings.put_logo(ADMIN, _png())
    assert saved.logo is not None and saved.company_name == "changed 1"
    assert racing.calls == 2
    assert w.settings_store.get(TENANT).logo is not None
    w.settings._store = _Racing(w.settings_store, races=1)
    assert w.settings.delete_logo(ADMIN).logo is None


def test_a_logo_that_keeps_losing_is_a_conflict_not_a_412() -> None:
    w = world()
    w.settings.put_logo(ADMIN, _png())
    w.settings._store = _Racing(w.settings_store, races=LOGO_SAVE_ATTEMPTS)
    with pytest.raises(Conflict):
        w.settings.put_logo(ADMIN, _png())
