"""A contact's photo (CON-7).

Rules:
- The upload is the image itself (PUT with the image's Content-Type), at
  most 1 MB (413, checked before anything is decoded).
- What it is decides, not what it claims: Pillow identifies the bytes, and
  only formats browsers show are opened (PNG, JPEG, GIF, WebP, BMP, AVIF,
  ICO); anything else is 415. A declared type that differs from the real
  one is fine (the real one wins).
- Decompression bombs are refused with 422 before any pixel is decoded: at
  most ``MAX_PIXELS`` pixels, and Pillow's own DecompressionBombWarning is an
  error. A damaged image is 422 as well.
- Animated images keep their first frame; the EXIF orientation is applied
  (and all metadata, GPS included, dropped); the image is scaled down to fit
  200x300 keeping its aspect ratio (never scaled up) and stored as PNG when
  it really has transparent pixels, as JPEG (quality 85) otherwise.
- Changing or removing the photo needs WRITE on the contact; reading it
  needs READ (a hidden contact is 404, like a contact without a photo).
  ``If-Match`` is optional: when sent it must name the contact's version
  (412 when stale); without it the change is checked against the version
  just read and retried once on a concurrent change.
- The image lives in S3 (one object per contact, overwritten by a new
  upload); the contact records ``photo = {content_type, width, height,
  size, updated_at}``. Deleting the contact deletes the object (cascade,
  idempotent). GET answers a redirect to a presigned URL valid 5 minutes.

The image pipeline (Pillow, imported on first use only) lives in
domain/shared/images.py, shared with the invoice logo (SET-11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.domain.contacts.limits import BOX, MAX_PHOTO_BYTES, URL_SECONDS
from chalicelib.domain.contacts.models import Contact
from chalicelib.domain.contacts.service import Contacts
from chalicelib.domain.shared.access import Operation
from chalicelib.domain.shared.clock import Clock, iso, utc_now
from chalicelib.domain.shared.errors import Conflict, NotFound, PayloadTooLarge, PreconditionFailed
from chalicelib.domain.shared.images import MAX_PIXELS, MEDIA_TYPES, PILLOW_FORMATS, SHOWN_FORMATS, ProcessedImage
from chalicelib.domain.shared.images import process_image as process_any_image
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import require_version

if TYPE_CHECKING:
    from chalicelib.domain.contacts.ports import PhotoBlobs

# Re-exported: the routes, app.py and tests name them from here.
__all__ = ["MAX_PIXELS", "MEDIA_TYPES", "PILLOW_FORMATS", "SHOWN_FORMATS", "ContactPhotos", "process_image"]


# The pipeline is shared with the invoice logo (domain/shared/images.py).
ProcessedPhoto = ProcessedImage


def process_image(data: bytes) -> ProcessedPhoto:
    """The stored form of an uploaded photo: first frame, upright, fitting
    ``BOX``, PNG if transparent else JPEG. Raises PayloadTooLarge (413),
    UnsupportedMediaType (415) or ValidationFailed (422)."""
    return process_any_image(data, box=BOX, max_bytes=MAX_PHOTO_BYTES, what="photo")


class ContactPhotos:
    def __init__(self, contacts: Contacts, blobs: PhotoBlobs, clock: Clock = utc_now):
        self._contacts = contacts
        self._blobs = blobs
        self._clock = clock

    def put(
        self, principal: Principal, contact_id: str, data: bytes, *, expected_version: int | None = None
    ) -> Contact:
        """Store the image as the contact's photo; the contact with its new version."""
        if len(data) > MAX_PHOTO_BYTES:
            raise PayloadTooLarge(f"A photo may be at most {MAX_PHOTO_BYTES // 1024} KB.")
        # Access first: no CPU is spent on images for contacts the caller may not change.
        contact = self._contacts.get(principal, contact_id, Operation.WRITE)
        require_version(contact, expected_version, "contact")
        photo = process_image(data)
        self._blobs.put(principal.tenant_id, contact.id, photo.data, photo.content_type)
        record = {
            "content_type": photo.content_type,
            "width": photo.width,
            "height": photo.height,
            "size": len(photo.data),
            "updated_at": iso(self._clock()),
        }
        try:
            return self._save(principal, contact.id, record, expected_version)
        except NotFound:
            # Deleted meanwhile: its cascade may have run before the upload landed.
            self._blobs.delete(principal.tenant_id, contact.id)
            raise
        except (PreconditionFailed, Conflict):
            if contact.photo is None:  # no object of a stored photo was replaced: leave nothing behind
                self._blobs.delete(principal.tenant_id, contact.id)
            raise

    def download_url(self, principal: Principal, contact_id: str) -> str:
        contact = self._contacts.get(principal, contact_id, Operation.READ)
        if contact.photo is None:
            raise NotFound("The contact has no photo.")
        return self._blobs.download_url(principal.tenant_id, contact.id, URL_SECONDS)

    def delete(self, principal: Principal, contact_id: str, *, expected_version: int | None = None) -> Contact:
        contact = self._contacts.get(principal, contact_id, Operation.WRITE)
        if contact.photo is None:
            raise NotFound("The contact has no photo.")
        require_version(contact, expected_version, "contact")
        saved = self._save(principal, contact.id, None, expected_version)
        # After the record: a failure here leaves an unreferenced object that the
        # next upload overwrites and the contact's cascade deletes.
        self._blobs.delete(principal.tenant_id, contact.id)
        return saved

    def copy(self, principal: Principal, source: Contact, target: Contact) -> Contact:
        """A merge: the survivor takes the other contact's photo if it has none."""
        if source.photo is None or target.photo is not None:
            return target
        try:
            data, content_type = self._blobs.get(principal.tenant_id, source.id)
        except NotFound:
            return target
        self._blobs.put(principal.tenant_id, target.id, data, content_type)
        record = {**source.photo, "updated_at": iso(self._clock())}
        return self._save(principal, target.id, record, None)

    def forget(self, tenant_id: str, contact_id: str) -> None:
        """Cascade of a deleted contact: its image goes (idempotent)."""
        self._blobs.delete(tenant_id, contact_id)

    def _save(
        self, principal: Principal, contact_id: str, photo: dict[str, Any] | None, expected_version: int | None
    ) -> Contact:
        try:
            return self._contacts.set_photo(principal, contact_id, photo, expected_version=expected_version)
        except PreconditionFailed:
            if expected_version is not None:
                raise
        # No If-Match: the contact changed between read and write; the photo is
        # independent of that change, so apply it once more to the fresh record.
        try:
            return self._contacts.set_photo(principal, contact_id, photo)
        except PreconditionFailed:
            raise Conflict("The contact is being changed by someone else; send the photo again.") from None
