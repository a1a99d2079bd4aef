"""S3 blob store. Every key starts with the tenant; clients only ever get
short-lived presigned URLs, never bucket credentials."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.config import get_settings
from chalicelib.domain.shared.errors import NotFound
from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors, error_code

DEFAULT_URL_SECONDS = 300


def tenant_object_key(tenant_id: str, *parts: str) -> str:
    if not tenant_id or "/" in tenant_id:
        raise ValueError("invalid tenant id")
    if any(not part or ".." in part for part in parts):
        raise ValueError("invalid object key part")
    return "/".join(["t", tenant_id, *parts])


class BlobStore:
    def __init__(self, bucket: str | None = None):
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        return self._bucket or get_settings().bucket_name

    @property
    def _s3(self) -> Any:
        return client("s3")

    def put(self, key: str, data: bytes, content_type: str) -> None:
        with aws_errors():
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> tuple[bytes, str]:
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if error_code(err) in ("NoSuchKey", "404"):
                raise NotFound("The file does not exist.") from err
            with aws_errors():
                raise
        return answer["Body"].read(), answer.get("ContentType", "application/octet-stream")

    def head(self, key: str) -> tuple[int, str | None] | None:
        """(size, content type) of an object, None if there is none."""
        try:
            answer = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if error_code(err) in ("404", "NoSuchKey", "NotFound"):
                return None
            with aws_errors():
                raise
        return int(answer.get("ContentLength", 0)), answer.get("ContentType")

    def delete(self, key: str) -> None:
        with aws_errors():
            self._s3.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        paginator = self._s3.get_paginator("list_objects_v2")
        with aws_errors():
            for listing in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                objects = [{"Key": o["Key"]} for o in listing.get("Contents", [])]
                if objects:
                    self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
                    deleted += len(objects)
        return deleted

    def download_url(self, key: str, *, seconds: int = DEFAULT_URL_SECONDS, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)

    def upload_url(self, key: str, content_type: str, *, seconds: int = DEFAULT_URL_SECONDS) -> str:
        """A presigned PUT; the client must send the same Content-Type."""
        return self._s3.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type}, ExpiresIn=seconds
        )

    def ping(self) -> None:
        with aws_errors():
            self._s3.head_bucket(Bucket=self.bucket)
