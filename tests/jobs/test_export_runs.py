"""ADM-1 on the jobs queue: an export that runs out of time again and again
(or dies and is delivered again) goes on from its checkpoint and makes the
same ZIP as one that ran straight through, written as a multipart upload."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.exports import sources
from tests.conftest import Api, Tenant, bearer
from tests.import_helpers import download_zip, export


class Context:
    """A Lambda context whose time runs out at every other question."""

    def __init__(self) -> None:
        self.asked = 0

    def get_remaining_time_in_millis(self) -> int:
        self.asked += 1
        return 0 if self.asked % 2 else 60_000


@pytest.fixture
def small_parts(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.s3.models

    from chalicelib.bootstrap import container
    from chalicelib.storage.exports import ExportFiles

    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 256)
    monkeypatch.setattr(sources, "PAGE", 4)
    container().override(export_files=ExportFiles(part_size=512))


def seed(api: Api, owner: dict[str, str], count: int) -> None:
    for n in range(count):
        status, body, _ = api.call(
            "POST",
            "/v1/contacts",
            {
                "kind": "person",
                "first_name": f"Person {n:03d}",
                "last_name": "Zufall" * (n % 7 + 1),
                "description": "x" * (n * 13 % 200),
                "details": [{"type": "email", "value": f"p{n}@example.de"}],
            },
            headers=owner,
        )
        assert status == 201, body


def files_of(job: dict[str, Any]) -> dict[str, bytes]:
    archive = download_zip(job)
    return {name: archive.read(name) for name in archive.namelist()}


def test_an_export_interrupted_at_every_other_page_makes_the_same_zip(
    api: Api, tenant: Tenant, run_queues: Any, small_parts: None
) -> None:
    owner = bearer(tenant.owner_token)
    seed(api, owner, 30)
    straight = export(api, owner, run_queues)
    context = Context()
    started_status, started, _ = api.call("POST", "/v1/exports", {}, headers=owner)
    assert started_status == 202
    outcome = run_queues(context=context)
    assert outcome["failures"] == [] and outcome["handled"] > 10, outcome
    status, interrupted, _ = api.call("GET", started["status_url"], headers=owner)
    assert interrupted["status"] == "done"
    assert files_of(interrupted) == files_of(straight)
    assert interrupted["result"]["size"] > 4 * 512  # several parts of the multipart upload


def test_an_export_whose_invocation_dies_is_redone_from_its_checkpoint(
    api: Api, tenant: Tenant, run_queues: Any, small_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.storage.multipart import MultipartWriter

    owner = bearer(tenant.owner_token)
    seed(api, owner, 20)
    straight = export(api, owner, run_queues, entities=["contacts"])
    upload = MultipartWriter._upload
    parts: list[int] = []

    def dies_once(self: Any, part: bytes) -> None:
        upload(self, part)
        parts.append(len(part))
        if len(parts) == 3:
            raise RuntimeError("the Lambda died")

    monkeypatch.setattr(MultipartWriter, "_upload", dies_once)
    context = Context()
    status, started, _ = api.call("POST", "/v1/exports", {"entities": ["contacts"]}, headers=owner)
    outcome = run_queues(context=context)
    assert len(outcome["failures"]) == 1
    status, job, _ = api.call("GET", started["status_url"], headers=owner)
    assert job["status"] == "done" and job["failed"] == 0
    assert files_of(job) == files_of(straight)
