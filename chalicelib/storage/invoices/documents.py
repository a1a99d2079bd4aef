"""Invoice PDFs and the company logo in S3, beside the records.

- PDFs: ``t/<tenant>/invoices/<invoice id>/<digest>.pdf``, one per rendered
  content; the state item (``T#t#INVOICE#<id>`` / ``PDF``) names the current
  one. Saving a new rendering writes the object, then the state (in a
  transaction that checks the invoice still exists: a rendering that finishes
  after a delete leaves nothing behind), then removes the previous object.
- The logo: ``t/<tenant>/settings/invoice-logo``, handled like a contact photo
  (storage/contacts/photos.py): overwritten by a new upload, presigned GET.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.shared.clock import iso
from chalicelib.domain.shared.errors import CrmError, NotFound
from chalicelib.storage.blobs import BlobStore, tenant_object_key
from chalicelib.storage.dynamo import keys
from chalicelib.storage.dynamo.table import Check, Delete, Put, Table


def pdf_key(tenant_id: str, invoice_id: str, digest: str) -> str:
    return tenant_object_key(tenant_id, "invoices", invoice_id, f"{digest[:32]}.pdf")


def logo_key(tenant_id: str) -> str:
    return tenant_object_key(tenant_id, "settings", "invoice-logo")


class InvoiceDocumentStore:
    def __init__(self, table: Table | None = None, blobs: BlobStore | None = None):
        self._table = table or Table()
        self._blobs = blobs or BlobStore()

    def state(self, tenant_id: str, invoice_id: str) -> dict[str, Any] | None:
        return self._table.get(keys.invoice_pdf(tenant_id, invoice_id), consistent=True)

    def request(self, tenant_id: str, invoice_id: str, digest: str, at: datetime) -> None:
        self._table.update(
            keys.invoice_pdf(tenant_id, invoice_id),
            set={"requested_digest": digest, "requested_at": at.isoformat()},
            bump_version=False,
            must_exist=False,
        )

    def save(self, tenant_id: str, invoice_id: str, digest: str, pdf: bytes, *, at: datetime, e_invoice: bool) -> None:
        before = self.state(tenant_id, invoice_id) or {}
        key = pdf_key(tenant_id, invoice_id, digest)
        self._blobs.put(key, pdf, "application/pdf")
        state = {
            **keys.invoice_pdf(tenant_id, invoice_id),
            "digest": digest,
            "object_key": key,
            "size": len(pdf),
            "e_invoice": e_invoice,
            "rendered_at": iso(at),
            "requested_digest": before.get("requested_digest"),
            "requested_at": before.get("requested_at"),
        }
        try:
            self._table.transact(
                [
                    Put(state, must_not_exist=False),
                    Check(
                        keys.invoice(tenant_id, invoice_id),
                        "attribute_exists(pk)",
                        on_conflict=NotFound("The invoice does not exist."),
                    ),
                ]
            )
        except CrmError:
            self._blobs.delete(key)
            raise
        old = before.get("object_key")
        if old and old != key:
            self._blobs.delete(old)

    def pdf(self, tenant_id: str, invoice_id: str) -> bytes:
        state = self.state(tenant_id, invoice_id)
        if not state or not state.get("object_key"):
            raise NotFound("The invoice has no PDF yet.")
        return self._blobs.get(state["object_key"])[0]

    def download_url(self, tenant_id: str, invoice_id: str, *, filename: str, seconds: int) -> str:
        state = self.state(tenant_id, invoice_id)
        if not state or not state.get("object_key"):
            raise NotFound("The invoice has no PDF yet.")
        return self._blobs.download_url(state["object_key"], seconds=seconds, filename=filename)

    def forget(self, tenant_id: str, invoice_id: str) -> None:
        self._blobs.delete_prefix(tenant_object_key(tenant_id, "invoices", invoice_id) + "/")
        self._table.transact([Delete(keys.invoice_pdf(tenant_id, invoice_id))])


class LogoStore:
    def __init__(self, blobs: BlobStore | None = None):
        self._blobs = blobs or BlobStore()

    def put(self, tenant_id: str, data: bytes, content_type: str) -> None:
        self._blobs.put(logo_key(tenant_id), data, content_type)

    def get(self, tenant_id: str) -> tuple[bytes, str]:
        return self._blobs.get(logo_key(tenant_id))

    def delete(self, tenant_id: str) -> None:
        self._blobs.delete(logo_key(tenant_id))

    def download_url(self, tenant_id: str, seconds: int) -> str:
        return self._blobs.download_url(logo_key(tenant_id), seconds=seconds)
