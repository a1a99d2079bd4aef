"""Helpers of the import and export tests (tests/api, tests/jobs): a CSV
uploaded to its presigned URL, previewed, started and run to its end."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import requests

from tests.conftest import Api


def csv_bytes(rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def upload(api: Api, headers: dict[str, str], data: bytes, entity: str = "contacts", name: str = "people.csv") -> str:
    status, created, _ = api.call("POST", "/v1/imports", {"entity": entity, "filename": name}, headers=headers)
    assert status == 201, created
    answer = requests.put(created["upload_url"], data=data, headers=created["upload_headers"], timeout=10)
    assert answer.status_code == 200, answer.text
    return str(created["id"])


def preview(api: Api, headers: dict[str, str], import_id: str, query: str = "") -> dict[str, Any]:
    status, body, _ = api.call("GET", f"/v1/imports/{import_id}/preview{query}", headers=headers)
    assert status == 200, body
    return body


def start(api: Api, headers: dict[str, str], import_id: str, **options: Any) -> dict[str, Any]:
    if "mapping" not in options:
        options["mapping"] = preview(api, headers, import_id)["suggested_mapping"]
    status, body, _ = api.call("POST", f"/v1/imports/{import_id}/start", options, headers=headers)
    assert status == 202, body
    return body


def run_import(
    api: Api, headers: dict[str, str], run_queues: Any, data: bytes, entity: str = "contacts", **options: Any
) -> dict[str, Any]:
    """Upload, start with the suggested mapping (or ``mapping=``), run to the end; the import's status."""
    import_id = upload(api, headers, data, entity)
    start(api, headers, import_id, **options)
    outcome = run_queues()
    assert outcome["failures"] == [], outcome
    status, body, _ = api.call("GET", f"/v1/imports/{import_id}", headers=headers)
    assert status == 200, body
    return body


def errors_report(api: Api, headers: dict[str, str], import_id: str) -> list[list[str]]:
    status, _, answer_headers = api.call("GET", f"/v1/imports/{import_id}/errors", headers=headers)
    assert status == 302
    body = requests.get(answer_headers["location"], timeout=10)
    assert body.status_code == 200
    assert body.content.startswith(b"\xef\xbb\xbf")
    text = body.content.decode("utf-8-sig")
    # The report keeps the file's delimiter (a German Excel file stays one).
    delimiter = ";" if text.split("\r\n", 1)[0].startswith("line;") else ","
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def contacts(api: Api, headers: dict[str, str], **filters: str) -> list[dict[str, Any]]:
    found, cursor = [], None
    while True:
        query = "&".join([f"{k}={v}" for k, v in filters.items()] + ([f"cursor={cursor}"] if cursor else []))
        status, page, _ = api.call("GET", f"/v1/contacts?limit=200&{query}", headers=headers)
        assert status == 200, page
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def export(api: Api, headers: dict[str, str], run_queues: Any, **request: Any) -> dict[str, Any]:
    """POST /v1/exports, run the job, answer the job's status."""
    status, started, _ = api.call("POST", "/v1/exports", request, headers=headers)
    assert status == 202, started
    outcome = run_queues()
    assert outcome["failures"] == [], outcome
    status, job, _ = api.call("GET", started["status_url"], headers=headers)
    assert status == 200, job
    return job


def download_zip(job: dict[str, Any]) -> zipfile.ZipFile:
    answer = requests.get(job["result"]["download_url"], timeout=10)
    assert answer.status_code == 200, answer.text
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert archive.testzip() is None
    return archive


def read_csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    raw = archive.read(name)
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte order mark"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
