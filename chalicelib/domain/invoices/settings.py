"""The company profile and invoice settings (SET-11, INV-1, INV-9).

- Every CRM user reads them (invoices show them); owners and admins change
  them. ``PUT`` replaces the profile; ``If-Match`` is optional (412 when stale).
- The VAT ID is checked with python-stdnum (format and check digits of the
  country it starts with: ``DE136695976``) and stored compact; the IBAN and
  BIC with schwifty (check digits, country formats, a BIC that fits the IBAN's
  country). Both libraries are imported where they check, not at cold start.
- Numbering: ``automatic`` (default on), ``prefix`` (default ``INV``) and
  ``next_number``, which lives in the counter item that invoice creation
  moves atomically (setting it here writes that counter).
- The logo goes through the same image pipeline and blob handling as contact
  photos (domain/shared/images.py): at most 1 MB, any format browsers show,
  scaled to fit 600x300 and stored as PNG or JPEG in S3.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.invoices.limits import LOGO_BOX, LOGO_URL_SECONDS, MAX_LOGO_BYTES
from chalicelib.domain.invoices.models import InvoiceSettings, InvoiceSettingsUpdate, Numbering
from chalicelib.domain.invoices.ports import InvoiceSettingsStore, LogoBlobs
from chalicelib.domain.shared.clock import Clock, iso, utc_now
from chalicelib.domain.shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from chalicelib.domain.shared.images import process_image
from chalicelib.domain.shared.principal import Principal

# Writes of the logo that lose a race with another change of the settings before giving up (409).
LOGO_SAVE_ATTEMPTS = 3


def check_vat_id(value: str) -> str:
    """The VAT ID, compact (``DE 136 695 976`` -> ``DE136695976``); ValueError when invalid."""
    from stdnum import util
    from stdnum.eu import vat
    from stdnum.exceptions import ValidationError

    compact = vat.compact(value)
    try:
        return str(vat.validate(compact))
    except ValidationError as err:
        module = util.get_cc_module(compact[:2].lower(), "vat") if len(compact) > 2 else None
        if module is not None and compact[:2].upper() not in vat.MEMBER_STATES:
            try:  # a non-EU VAT number (CH, GB, NO ...) that stdnum knows
                return compact[:2].upper() + str(module.validate(compact[2:]))
            except ValidationError:
                pass
        raise ValueError(f"is not a valid VAT ID ({err})") from None


def check_iban(value: str) -> str:
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        return str(IBAN(value).compact)
    except SchwiftyException as err:
        raise ValueError(f"is not a valid IBAN ({err})") from None


def check_bic(value: str, iban: str | None) -> str:
    from schwifty import BIC
    from schwifty.exceptions import SchwiftyException

    try:
        bic = BIC(value)
    except SchwiftyException as err:
        raise ValueError(f"is not a valid BIC ({err})") from None
    if iban and bic.country_code != iban[:2] and not (iban[:2] in _SEPA_SHARED and bic.country_code in _SEPA_SHARED):
        raise ValueError(f"belongs to {bic.country_code}, the IBAN to {iban[:2]}")
    return str(bic.compact)


# Territories that bank under another country's BICs (e.g. Monaco with FR).
_SEPA_SHARED = frozenset({"FR", "MC", "GP", "MQ", "RE", "GF", "YT", "PM", "BL", "MF"})


class InvoiceSettingsService:
    def __init__(self, store: InvoiceSettingsStore, logos: LogoBlobs, clock: Clock = utc_now):
        self._store = store
        self._logos = logos
        self._clock = clock

    def get(self, principal: Principal) -> tuple[InvoiceSettings, int]:
        """The profile and the next number; defaults for a tenant that never set them."""
        return self.current(principal.tenant_id), self._store.next_number(principal.tenant_id)

    def current(self, tenant_id: str) -> InvoiceSettings:
        found = self._store.get(tenant_id)
        if found is not None:
            return found
        now = self._clock()
        return InvoiceSettings(id="invoices", version=0, created_at=now, updated_at=now)

    def put(
        self, principal: Principal, request: InvoiceSettingsUpdate, *, expected_version: int | None
    ) -> tuple[InvoiceSettings, int]:
        _require_admin(principal)
        before = self.current(principal.tenant_id)
        if expected_version is not None and before.version != expected_version:
            from chalicelib.domain.shared.errors import PreconditionFailed

            raise PreconditionFailed(
                f"The invoice settings are at version {before.version}, not {expected_version}; reload them."
            )
        errors: list[FieldError] = []
        vat_id = _checked(errors, "vat_id", request.vat_id, check_vat_id)
        iban = _checked(errors, "iban", request.iban, check_iban)
        bic = _checked(errors, "bic", request.bic, lambda v: check_bic(v, iban))
        if errors:
            raise ValidationFailed("The invoice settings are not valid.", errors=errors)
        now = self._clock()
        after = before.model_copy(
            update={
                "company_name": request.company_name,
                "address": request.address.model_dump() if request.address else None,
                "vat_id": vat_id,
                "iban": iban,
                "bic": bic,
                "email": (request.email or "").strip() or None,
                "phone": (request.phone or "").strip() or None,
                "default_terms": request.default_terms,
                "automatic": request.numbering.automatic,
                "prefix": request.numbering.prefix,
                "created_at": before.created_at if before.version else now,
                "created_by": before.created_by if before.version else principal.user_id,
                "updated_at": now,
                "updated_by": principal.user_id,
            }
        )
        saved = self._store.save(principal.tenant_id, after, expected_version=before.version or None)
        if request.numbering.next_number != self._store.next_number(principal.tenant_id):
            self._store.set_next_number(principal.tenant_id, request.numbering.next_number)
        return saved, self._store.next_number(principal.tenant_id)

    def numbering(self, tenant_id: str) -> Numbering:
        settings = self.current(tenant_id)
        return Numbering(
            automatic=settings.automatic, prefix=settings.prefix, next_number=self._store.next_number(tenant_id)
        )

    def next_number(self, tenant_id: str) -> int:
        return self._store.next_number(tenant_id)

    def skip_number(self, tenant_id: str, number: int) -> None:
        self._store.skip_number(tenant_id, number)

    # ---- the logo ----

    def put_logo(self, principal: Principal, data: bytes) -> InvoiceSettings:
        _require_admin(principal)
        image = process_image(data, box=LOGO_BOX, max_bytes=MAX_LOGO_BYTES, what="logo")
        before = self.current(principal.tenant_id)
        self._logos.put(principal.tenant_id, image.data, image.content_type)
        logo = {
            "content_type": image.content_type,
            "width": image.width,
            "height": image.height,
            "size": len(image.data),
            "updated_at": iso(self._clock()),
        }
        return self._save_logo(principal, before, logo)

    def logo_url(self, principal: Principal) -> str:
        if self.current(principal.tenant_id).logo is None:
            raise NotFound("There is no logo.")
        return self._logos.download_url(principal.tenant_id, LOGO_URL_SECONDS)

    def logo(self, tenant_id: str) -> tuple[bytes, str] | None:
        """The image for a document; None without one."""
        if self.current(tenant_id).logo is None:
            return None
        try:
            return self._logos.get(tenant_id)
        except NotFound:
            return None

    def delete_logo(self, principal: Principal) -> InvoiceSettings:
        _require_admin(principal)
        before = self.current(principal.tenant_id)
        if before.logo is None:
            raise NotFound("There is no logo.")
        saved = self._save_logo(principal, before, None)
        self._logos.delete(principal.tenant_id)
        return saved

    def _save_logo(self, principal: Principal, before: InvoiceSettings, logo: dict[str, Any] | None) -> InvoiceSettings:
        # The logo routes take no If-Match: a write that lost a race with another change of the
        # settings is made again over what is there now. 412 is the answer to a client's own stale
        # If-Match only (issue 19, fuzzing: two writes at once answered it to a PUT without one).
        for attempt in range(LOGO_SAVE_ATTEMPTS):
            if attempt:
                before = self.current(principal.tenant_id)
            after = before.model_copy(
                update={
                    "logo": logo,
                    "created_by": before.created_by or principal.user_id,
                    "updated_at": self._clock(),
                    "updated_by": principal.user_id,
                }
            )
            try:
                return self._store.save(principal.tenant_id, after, expected_version=before.version or None)
            except PreconditionFailed:
                continue
        raise Conflict("The invoice settings are being changed by someone else; please retry.")


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only owners and admins change the invoice settings.")


def _checked(errors: list[FieldError], name: str, value: str | None, check: Any) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return str(check(value.strip()))
    except ValueError as err:
        errors.append(FieldError(name, str(err)))
        return None
