"""One S3 object written in parts, in constant memory, across invocations.

``MultipartWriter`` keeps at most one part (``PART_SIZE``) in memory and
uploads it as a part of a multipart upload once full. S3 wants every part
but the last to be at least 5 MB, so a writer that must stop half-way
(its invocation runs out of time) puts what it holds into a small "tail"
object and answers its state (``suspend``): the upload id and the next part
number, a few dozen bytes for a job's checkpoint. ``MultipartWriter(...,
state=...)`` resumes: the tail comes back into memory and writing goes on.
The part ETags are not kept: ``close`` lists them (ListParts), so the state
stays small however many parts there are. An object that never reaches one
part is written with one PutObject.

A part written twice (a retry that resumes from an older state) replaces
itself: part numbers come from the state, not from what S3 holds.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.storage.dynamo.errors import aws_errors, error_code

PART_SIZE = 8 * 1024 * 1024


class MultipartWriter:
    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        *,
        content_type: str,
        state: dict[str, Any] | None = None,
        part_size: int = PART_SIZE,
        filename: str | None = None,
    ):
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._part_size = part_size
        self._filename = filename
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._next_part = 1
        self.written = 0  # bytes written through this writer object (and before it, when resumed)
        if state:
            self._upload_id = state.get("upload_id")
            self._next_part = int(state.get("next_part", 1))
            self.written = int(state.get("written", 0))
            if state.get("tail"):
                with aws_errors():
                    body = self._s3.get_object(Bucket=bucket, Key=state["tail"])["Body"]
                    self._buffer += body.read()

    @property
    def tail_key(self) -> str:
        return f"{self._key}.tail"

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.written += len(data)
        while len(self._buffer) >= self._part_size:
            part = bytes(self._buffer[: self._part_size])
            del self._buffer[: self._part_size]
            self._upload(part)

    def _upload(self, part: bytes) -> None:
        with aws_errors():
            if self._upload_id is None:
                extra = {"ContentDisposition": f'attachment; filename="{self._filename}"'} if self._filename else {}
                self._upload_id = self._s3.create_multipart_upload(
                    Bucket=self._bucket, Key=self._key, ContentType=self._content_type, **extra
                )["UploadId"]
            self._s3.upload_part(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=self._next_part, Body=part
            )
        self._next_part += 1

    def suspend(self) -> dict[str, Any]:
        """Park what is held in the tail object; answer the state to resume from."""
        with aws_errors():
            self._s3.put_object(Bucket=self._bucket, Key=self.tail_key, Body=bytes(self._buffer))
        return {
            "upload_id": self._upload_id,
            "next_part": self._next_part,
            "written": self.written,
            "tail": self.tail_key,
        }

    def close(self) -> int:
        """Finish the object; answers its size in bytes."""
        with aws_errors():
            if self._upload_id is None:
                extra = {"ContentDisposition": f'attachment; filename="{self._filename}"'} if self._filename else {}
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=self._key,
                    Body=bytes(self._buffer),
                    ContentType=self._content_type,
                    **extra,
                )
            else:
                if self._buffer:
                    self._upload(bytes(self._buffer))
                try:
                    parts = self._parts()
                    self._s3.complete_multipart_upload(
                        Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": parts}
                    )
                except ClientError as err:
                    # Completed by an earlier attempt that died before saying so: the object is there.
                    if error_code(err) != "NoSuchUpload" or not self._exists():
                        raise
            self._s3.delete_object(Bucket=self._bucket, Key=self.tail_key)
        self._buffer.clear()
        return self.written

    def _exists(self) -> bool:
        try:
            self._s3.head_object(Bucket=self._bucket, Key=self._key)
        except ClientError:
            return False
        return True

    def abort(self) -> None:
        with aws_errors():
            if self._upload_id is not None:
                self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            self._s3.delete_object(Bucket=self._bucket, Key=self.tail_key)

    def _parts(self) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        marker = 0
        while True:
            answer = self._s3.list_parts(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumberMarker=marker
            )
            parts += [
                {"PartNumber": p["PartNumber"], "ETag": p["ETag"]}
                for p in answer.get("Parts", [])
                if p["PartNumber"] < self._next_part
            ]
            if not answer.get("IsTruncated"):
                return parts
            marker = answer["NextPartNumberMarker"]
