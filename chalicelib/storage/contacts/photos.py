"""Contact photos in S3: one object per contact, under the tenant's prefix
(``t/<tenant>/contacts/<contact id>/photo``). Overwritten by a new upload,
deleted with the photo or the contact (idempotent: deleting a missing object
succeeds). Clients only ever get a short-lived presigned GET URL."""

from __future__ import annotations

from chalicelib.storage.blobs import BlobStore, tenant_object_key


def photo_key(tenant_id: str, contact_id: str) -> str:
    return tenant_object_key(tenant_id, "contacts", contact_id, "photo")


class ContactPhotoStore:
    def __init__(self, blobs: BlobStore | None = None):
        self._blobs = blobs or BlobStore()

    def put(self, tenant_id: str, contact_id: str, data: bytes, content_type: str) -> None:
        self._blobs.put(photo_key(tenant_id, contact_id), data, content_type)

    def get(self, tenant_id: str, contact_id: str) -> tuple[bytes, str]:
        """The image and its media type; NotFound when there is none."""
        return self._blobs.get(photo_key(tenant_id, contact_id))

    def delete(self, tenant_id: str, contact_id: str) -> None:
        self._blobs.delete(photo_key(tenant_id, contact_id))

    def download_url(self, tenant_id: str, contact_id: str, seconds: int) -> str:
        # No Content-Disposition: the URL is meant for <img src>, shown inline.
        return self._blobs.download_url(photo_key(tenant_id, contact_id), seconds=seconds)
