"""The admin command as the README documents it against the local stack:
`python -m chalicelib.cli create-tenant ...` with CRM_AWS_ENDPOINT_URL alone
(no AWS credentials anywhere), and a one-line error, never a traceback, for a
mistake a person makes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    """The local stack's emulator on a free port, with the table, bucket and queues."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.emulator", "-H", HOST, "-p", str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{HOST}:{port}"
    try:
        provision = "from chalicelib.storage.dynamo.provision import create_resources; create_resources()"
        for _ in range(100):  # until the emulator listens
            if (
                subprocess.run(
                    [sys.executable, "-c", provision], cwd=REPO_ROOT, env=cli_env(url), capture_output=True
                ).returncode
                == 0
            ):
                break
        else:
            pytest.fail("the emulator did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def cli_env(endpoint: str) -> dict[str, str]:
    """A shell with nothing but the endpoint: no AWS variables, no ~/.aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CRM_"))}
    env.update({"CRM_AWS_ENDPOINT_URL": endpoint, "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", *args],
        cwd=REPO_ROOT,
        env=cli_env(endpoint),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_create_tenant_works_against_the_local_stack_with_the_endpoint_alone(emulator: str) -> None:
    done = cli(
        emulator,
        "create-tenant",
        "--name",
        "Müller GmbH",
        "--owner-email",
        "chef@mueller.de",
        "--time-zone",
        "Europe/Berlin",
    )
    assert done.returncode == 0, done.stderr
    created: dict[str, Any] = json.loads(done.stdout)
    assert created["owner_email"] == "chef@mueller.de" and created["tenant_id"] and created["invitation_token"]


def test_an_invalid_field_is_named_not_a_traceback(emulator: str) -> None:
    done = cli(emulator, "create-tenant", "--name", "X", "--owner-email", "not-an-address")
    assert done.returncode == 2
    assert "owner_email" in done.stderr and "Traceback" not in done.stderr


def test_a_stack_that_is_not_running_is_one_line_not_a_traceback() -> None:
    nobody = f"http://{HOST}:{free_port()}"
    done = cli(nobody, "create-tenant", "--name", "X", "--owner-email", "x@example.de")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert "make run" in done.stderr


def test_a_missing_table_says_so(emulator: str) -> None:
    env_table = cli_env(emulator) | {"CRM_TABLE_NAME": "no-such-table"}
    done = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "create-tenant", "--name", "X", "--owner-email", "y@example.de"],
        cwd=REPO_ROOT,
        env=env_table,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "no-such-table" in done.stderr
