"""Files attached to contacts, deals and cases (HIS-1 attachments, CAS-3 documents).

A file belongs to one parent record and lives in S3 under its tenant. The
API never handles the bytes: ``create`` records the file as *pending* and
hands out a presigned PUT (valid 5 minutes) with the Content-Type signed in,
so the client must send exactly the ``upload_headers`` it gets back. The
upload is confirmed the first time the file is needed (attached to a history
event, its record or download asked for): the object must exist, be at
most ``MAX_FILE_BYTES`` and carry the declared type; then the file is
*uploaded*. An object that breaks these rules is discarded (an empty object
is what a PUT without the signed Content-Type leaves on some S3 emulators),
and the file stays pending with a ``problem`` saying why.

Access: whoever may read the parent may read its files; adding a file needs
the right to add history to the parent (``access.may_create_history``). A
file of a parent the caller may not read answers exactly like a file that
does not exist.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import ConfigDict, Field

from chalicelib.domain.records.parents import Parents
from chalicelib.domain.shared import access
from chalicelib.domain.shared.clock import Clock, new_id, utc_now
from chalicelib.domain.shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from chalicelib.domain.shared.model import Model
from chalicelib.domain.shared.pagination import PageRequest, Slice
from chalicelib.domain.shared.principal import Principal
from chalicelib.domain.shared.records import Record

if TYPE_CHECKING:
    from chalicelib.domain.records.ports import FileStore

ID_PATTERN = r"^[0-9A-Za-z_-]{1,64}$"
_ID = re.compile(ID_PATTERN)
RecordId = Annotated[str, Field(pattern=ID_PATTERN, description="A record id (ULID)")]
ParentKind = Literal["contact", "deal", "case"]

MAX_FILE_BYTES = 10 * 1024 * 1024
UPLOAD_SECONDS = 300
DOWNLOAD_SECONDS = 300
MAX_FILENAME = 200

# Documents people attach to CRM records. Not HTML, SVG or scripts: nothing a
# browser would run (downloads are attachments anyway, this is a second fence).
ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "application/pdf",
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/tiff",
        "image/bmp",
        "image/heic",
        "image/heif",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/rtf",
        "text/rtf",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/x-zip-compressed",
        "message/rfc822",
        "application/vnd.ms-outlook",
    }
)
_CHARSET = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


def valid_id(value: str) -> bool:
    return bool(_ID.match(value or ""))


class ParentLink(Model):
    """The record a history event or a file hangs off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ParentKind
    id: RecordId

    @classmethod
    def of(cls, kind: str, record_id: str) -> "ParentLink":
        """The link to a record of any kind (validated: one of the parent kinds)."""
        return cls.model_validate({"kind": kind, "id": record_id})


class FileStatus(StrEnum):
    PENDING = "pending"
    UPLOADED = "uploaded"


class StoredFile(Record):
    tenant_id: str
    parent: ParentLink
    filename: str
    content_type: str
    size: int
    status: FileStatus = FileStatus.PENDING
    uploaded_by: str
    # Why a pending file is not uploaded yet (e.g. the upload was empty).
    problem: str | None = None


class NewFile(Model):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(
        min_length=1, max_length=1000, description="Path parts are dropped; at most 200 characters are kept."
    )
    content_type: str = Field(
        min_length=3, max_length=200, description="A document, image, text/CSV, zip or e-mail type; others answer 415."
    )
    size: int = Field(ge=1, description=f"Bytes; at most {MAX_FILE_BYTES} (10 MB), larger answers 413.")
    parent: ParentLink


@dataclass(frozen=True)
class Upload:
    file: StoredFile
    url: str
    headers: dict[str, str]
    expires_in: int


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str | None


# ---- pure rules ----


def sanitise_filename(raw: str) -> str:
    """The last path part, without control characters (whitespace becomes one
    space), surrounding dots and spaces, at most MAX_FILENAME characters (the
    extension is kept)."""
    name = unicodedata.normalize("NFC", raw)
    name = re.split(r"[/\\]", name)[-1]
    # Whitespace of any kind becomes a space; other control and format characters go.
    name = "".join(
        " " if ch.isspace() or unicodedata.category(ch)[0] == "Z" else ch
        for ch in name
        if ch.isspace() or unicodedata.category(ch)[0] != "C"
    )
    name = re.sub(r" +", " ", name).strip(" .")
    if not name:
        raise ValidationFailed("The file name is empty.", errors=[FieldError("filename", "must name a file")])
    if len(name) > MAX_FILENAME:
        stem, ext = os.path.splitext(name)
        ext = ext if len(ext) <= 16 else ""
        name = stem[: MAX_FILENAME - len(ext)].rstrip(" .") + ext
    return name


def ascii_filename(name: str) -> str:
    """A plain-ASCII stand-in for the Content-Disposition header ("Müller.pdf"
    -> "Muller.pdf"), without quotes or backslashes."""

    def fold(text: str) -> str:
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return re.sub(r"[^A-Za-z0-9 ._()+,-]", "_", text).strip(" ._")

    stem, ext = os.path.splitext(name)
    return (fold(stem) or "file") + ("." + fold(ext) if fold(ext) else "")


def normalise_content_type(raw: str) -> str:
    """``type/subtype`` (plus a charset, if one was given) from the allow-list;
    UnsupportedMediaType otherwise. Other parameters are dropped."""
    base, *params = [part.strip() for part in raw.split(";")]
    base = base.lower()
    if base not in ALLOWED_TYPES:
        raise UnsupportedMediaType(
            f"Files of type {base[:100]!r} are not accepted; allowed are PDF, images, office documents, "
            "plain text, CSV, zip and e-mail messages."
        )
    for param in params:
        name, _, value = param.partition("=")
        value = value.strip().strip('"')
        if name.strip().lower() == "charset" and _CHARSET.match(value):
            return f"{base}; charset={value.lower()}"
    return base


def _base_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def upload_problem(file: StoredFile, found: ObjectInfo) -> str | None:
    """Why an uploaded object cannot stand for the file, or None."""
    if found.size == 0:
        return "The upload was empty; send the Content-Type header given in upload_headers."
    if found.size > MAX_FILE_BYTES:
        return f"The upload is larger than {MAX_FILE_BYTES} bytes."
    if _base_type(found.content_type) != _base_type(file.content_type):
        return "The upload did not carry the declared Content-Type; send the headers given in upload_headers."
    return None


# ---- the service ----


class Files:
    def __init__(self, store: FileStore, parents: Parents, clock: Clock = utc_now):
        self._store = store
        self._parents = parents
        self._clock = clock

    def create(self, principal: Principal, request: NewFile) -> Upload:
        content_type = normalise_content_type(request.content_type)
        if request.size > MAX_FILE_BYTES:
            raise PayloadTooLarge(f"A file may have at most {MAX_FILE_BYTES} bytes (10 MB).")
        filename = sanitise_filename(request.filename)
        parent = self._parents.resolve(principal, request.parent.kind, request.parent.id)
        if not access.may_create_history(principal, parent_readable=True):
            raise Forbidden(f"You may not add files to this {parent.kind}.")
        now = self._clock()
        file = StoredFile(
            id=new_id(),
            tenant_id=principal.tenant_id,
            parent=ParentLink.of(parent.kind, parent.id),
            filename=filename,
            content_type=content_type,
            size=request.size,
            uploaded_by=principal.user_id,
            created_at=now,
            created_by=principal.user_id,
            updated_at=now,
            updated_by=principal.user_id,
        )
        self._store.add_file(file)
        url = self._store.upload_url(file.tenant_id, file.id, content_type, UPLOAD_SECONDS)
        return Upload(file=file, url=url, headers={"Content-Type": content_type}, expires_in=UPLOAD_SECONDS)

    def get(self, principal: Principal, file_id: str) -> StoredFile:
        """The file's record (its upload confirmed if it has arrived)."""
        return self._confirmed(self._readable(principal, file_id))

    def download_url(self, principal: Principal, file_id: str) -> str:
        file = self.get(principal, file_id)
        if file.status != FileStatus.UPLOADED:
            raise Conflict(file.problem or "The file has not been uploaded yet.")
        return self._store.download_url(file.tenant_id, file.id, ascii_filename(file.filename), DOWNLOAD_SECONDS)

    def list_for_parent(self, principal: Principal, kind: str, parent_id: str, page: PageRequest) -> Slice[StoredFile]:
        parent = self._parents.resolve(principal, kind, parent_id)
        return self._store.list_files(principal.tenant_id, ParentLink.of(parent.kind, parent.id), page)

    def attachable(self, principal: Principal, parent: ParentLink, file_ids: list[str]) -> list[str]:
        """The ids, de-duplicated, once each names an uploaded file of this
        parent (422 otherwise: another parent's or tenant's file is as
        unknown as a made-up id)."""
        wanted = list(dict.fromkeys(file_ids))
        if not wanted:
            return []
        found = {f.id: f for f in self._store.parent_files(principal.tenant_id, parent, wanted)}
        problems = []
        for file_id in wanted:
            file = found.get(file_id)
            if file is None:
                problems.append(FieldError("file_ids", f"{file_id}: no such file on this {parent.kind}"))
                continue
            file = self._confirmed(file)
            if file.status != FileStatus.UPLOADED:
                problems.append(FieldError("file_ids", f"{file_id}: {file.problem or 'not uploaded yet'}"))
        if problems:
            raise ValidationFailed("Some files cannot be attached.", errors=problems)
        return wanted

    def _readable(self, principal: Principal, file_id: str) -> StoredFile:
        missing = NotFound("The file does not exist.")
        file = self._store.find_file(principal.tenant_id, file_id) if valid_id(file_id) else None
        if file is None:
            raise missing
        try:
            self._parents.resolve(principal, file.parent.kind, file.parent.id)
        except NotFound:
            raise missing from None
        return file

    def _confirmed(self, file: StoredFile) -> StoredFile:
        if file.status == FileStatus.UPLOADED:
            return file
        found = self._store.object_info(file.tenant_id, file.id)
        if found is None:
            return file
        problem = upload_problem(file, found)
        if problem is not None:
            self._store.discard_object(file.tenant_id, file.id)
            return self._store.mark_problem(file, problem, self._clock())
        return self._store.mark_uploaded(file, found.size, self._clock())
