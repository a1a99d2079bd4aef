"""The GDPR job store's contract, twin and DynamoDB adapter alike: steps are a
set (a redelivered step is recorded once), jobs are per tenant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.gdpr.service import GdprJob, GdprKind, GdprStatus

NOW = datetime(2030, 5, 6, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def jobs(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        from chalicelib.storage.memory.gdpr import MemoryGdprJobs

        yield MemoryGdprJobs()
    else:
        request.getfixturevalue("aws")
        from chalicelib.storage.gdpr import DynamoGdprJobs

        yield DynamoGdprJobs()


def test_steps_and_finish(jobs: Any) -> None:
    job = GdprJob(id="J1", tenant_id="t1", kind=GdprKind.ERASE, contact_id="c1", created_by="a1", created_at=NOW)
    jobs.create(job)
    assert jobs.get("t1", "J1") == job and jobs.get("t2", "J1") is None
    for step in ("tasks", "mailing", "tasks"):
        jobs.step_done("t1", "J1", step, NOW)
    running = jobs.get("t1", "J1")
    assert running.status == GdprStatus.RUNNING and running.steps_done == ["mailing", "tasks"]
    jobs.finish("t1", "J1", NOW, "exports/t/t1/gdpr/c1/J1.zip")
    done = jobs.get("t1", "J1")
    assert (done.status, done.result_key, done.finished_at) == (GdprStatus.DONE, "exports/t/t1/gdpr/c1/J1.zip", NOW)
