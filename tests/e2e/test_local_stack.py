"""The local stack end to end: `python -m infra.local.run` as a user starts it,
over real HTTP on loopback. It serves, pumps the job queue into the Lambda
handler, saves its state on Ctrl-C, stops cleanly and brings the state back."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
REGION = "eu-central-1"
START_SECONDS = 60
STOP_SECONDS = 30
TABLE, BUCKET, QUEUE_PREFIX = "crm-e2e", "crm-e2e-files", "crm-e2e-"
MARKER = {"pk": {"S": "SYS#E2E"}, "sk": {"S": "MARKER"}}


@dataclass
class Stack:
    proc: subprocess.Popen[bytes]
    api_port: int
    aws_port: int
    log_path: Path

    @property
    def api(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-20000:]

    def client(self, service: str) -> Any:
        extra = {"config": Config(s3={"addressing_style": "path"})} if service == "s3" else {}
        return boto3.client(
            service,
            endpoint_url=f"http://{HOST}:{self.aws_port}",
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
            **extra,
        )

    def queue_url(self, name: str) -> str:
        return self.client("sqs").get_queue_url(QueueName=QUEUE_PREFIX + name)["QueueUrl"]


def free_ports(count: int) -> list[int]:
    """Ports the kernel hands out (port 0), held open together so they differ."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def stack_env(api_port: int, aws_port: int, data_dir: Path, twilio_port: int) -> dict[str, str]:
    # Explicit, whatever conftest or the shell put into os.environ.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CRM_AWS_ENDPOINT_URL", "CRM_CURSOR_SECRET", "CRM_STAGE", "AWS_PROFILE")
    }
    env.update(
        {
            "CRM_PORT": str(api_port),
            "CRM_AWS_PORT": str(aws_port),
            # Not the default 4567: two stacks run at once under xdist (and other checkouts' too).
            "CRM_TWILIO_FAKE_PORT": str(twilio_port),
            "CRM_DATA_DIR": str(data_dir),
            "CRM_SNAPSHOT_SECONDS": "1",
            "AWS_DEFAULT_REGION": REGION,
            "CRM_TABLE_NAME": TABLE,
            "CRM_BUCKET_NAME": BUCKET,
            "CRM_QUEUE_PREFIX": QUEUE_PREFIX,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def http_get(url: str, timeout: float = 5) -> tuple[int | None, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return None, b""


def http_json(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


DEMO = {"email": "owner@demo.local", "password": "demo-password"}


def wait_until_healthy(stack: Stack) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if stack.proc.poll() is not None:
            pytest.fail(f"the stack exited with {stack.proc.returncode} before /health answered:\n{stack.output()}")
        status, body = http_get(f"{stack.api}/health")
        if status == 200:
            assert json.loads(body) == {"status": "ok"}
            return
        time.sleep(0.25)
    pytest.fail(f"GET /health did not answer 200 within {START_SECONDS}s:\n{stack.output()}")


def wait_for(condition: Any, seconds: float, what: str, stack: Stack) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds}s:\n{stack.output()}")
        time.sleep(0.25)


def port_is_free(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def interrupt(stack: Stack) -> int:
    """Ctrl-C, as a user stops it; the exit code."""
    os.killpg(stack.proc.pid, signal.SIGINT)
    try:
        return stack.proc.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the stack did not stop within {STOP_SECONDS}s of SIGINT:\n{stack.output()}")


@contextmanager
def running_stack(data_dir: Path, log_path: Path, **extra_env: str) -> Iterator[Stack]:
    api_port, aws_port, twilio_port = free_ports(3)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.local.run"],
            cwd=REPO_ROOT,
            env={**stack_env(api_port, aws_port, data_dir, twilio_port), **extra_env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = Stack(proc, api_port, aws_port, log_path)
    try:
        wait_until_healthy(stack)
        yield stack
    finally:
        if proc.poll() is None:
            # Graceful first (it stops its own children), then no mercy.
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(STOP_SECONDS)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def test_local_stack_serves_the_api_its_reference_and_its_migrated_table(shared_stack: Stack) -> None:
    stack = shared_stack
    # Generous: the first /openapi.json of a stack builds the whole document, on a shared machine.
    status, document = http_get(f"{stack.api}/openapi.json", timeout=90)
    assert status == 200 and json.loads(document)["openapi"].startswith("3.1")
    status, page = http_get(f"{stack.api}/docs")
    assert status == 200 and b"<html" in page.lower()
    status, page = http_get(f"{stack.api}/docs/")
    assert status == 200 and b'"swagger-ui-bundle.js"' in page and b"../openapi.json" in page
    # A method http.server has no handler for is a 405 problem, not a bare 501.
    trace = urllib.request.Request(f"{stack.api}/v1/contacts", method="TRACE")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(trace, timeout=5)
    assert refused.value.code == 405 and refused.value.headers["Content-Type"] == "application/problem+json"
    assert json.loads(refused.value.read())["status"] == 405
    # The start brought the table's derived data up to this version (cli migrate).
    marker = stack.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": "SYS#JOB#index-version"}, "sk": {"S": "STATE"}}, ConsistentRead=True
    )
    assert marker["Item"]["index_version"] == {"N": "3"}
    assert "CRM local stack is ready" in stack.output()


def _expired_item(dynamodb: Any, sk: str, expired: datetime) -> dict[str, Any]:
    from chalicelib.storage.dynamo.keys import expiry_attributes

    key = {"pk": {"S": "SYS#E2E"}, "sk": {"S": sk}}
    attributes = expiry_attributes(expired)
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            **key,
            "ttl": {"N": str(attributes["ttl"])},
            "sched_pk": {"S": str(attributes["sched_pk"])},
            "sched_sk": {"S": str(attributes["sched_sk"])},
        },
    )
    return key


def _purge_job(expired: datetime) -> str:
    return json.dumps(
        {
            "kind": "housekeeping.purge_expired",
            "hour": expired.replace(minute=0, second=0, microsecond=0).isoformat(),
            "until": datetime.now(UTC).isoformat(),
        }
    )


def test_local_stack_pumps_jobs_into_the_handler_and_dead_letters_failures(shared_stack: Stack) -> None:
    stack = shared_stack
    sqs, jobs_url = stack.client("sqs"), stack.queue_url("jobs")
    visibility = sqs.get_queue_attributes(QueueUrl=jobs_url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    try:
        dead = _purge_and_dead_letter(stack)
    finally:  # the stack is shared: leave the queue as the stack made it
        sqs.set_queue_attributes(QueueUrl=jobs_url, Attributes=visibility)
    assert [json.loads(m["Body"]) for m in dead] == [{"kind": "no.such.job"}]


def _purge_and_dead_letter(stack: Stack) -> list[dict[str, Any]]:
    """Two purge jobs done and deleted, one unknown job dead-lettered; the dead letters."""
    dynamodb, sqs = stack.client("dynamodb"), stack.client("sqs")
    jobs_url, dlq_url = stack.queue_url("jobs"), stack.queue_url("jobs-dlq")

    def gone(key: dict[str, Any]) -> bool:
        return "Item" not in dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)

    # Older than the first housekeeping sweep looks back (48 h): only our messages can purge them.
    first, second = (datetime.now(UTC) - timedelta(days=days) for days in (3, 4))
    first_key = _expired_item(dynamodb, "EXPIRED-1", first)
    second_key = _expired_item(dynamodb, "EXPIRED-2", second)
    # Failed messages come back after the visibility timeout: short for the test.
    sqs.set_queue_attributes(QueueUrl=jobs_url, Attributes={"VisibilityTimeout": "1"})
    sqs.send_message(QueueUrl=jobs_url, MessageBody=_purge_job(first))
    wait_for(lambda: gone(first_key), 20, "the first purge", stack)

    # One batch, one good and one bad message: the good one is done and deleted,
    # the bad one retried until the redrive policy moves it to the dead-letter queue.
    sqs.send_message_batch(
        QueueUrl=jobs_url,
        Entries=[
            {"Id": "good", "MessageBody": _purge_job(second)},
            {"Id": "bad", "MessageBody": json.dumps({"kind": "no.such.job"})},
        ],
    )
    wait_for(lambda: gone(second_key), 20, "the second purge", stack)
    dead: list[dict[str, Any]] = []
    wait_for(
        lambda: dead.extend(sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])) or dead,
        40,
        "the failing message reaching the dead-letter queue",
        stack,
    )

    def counts() -> dict[str, str]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        return sqs.get_queue_attributes(QueueUrl=jobs_url, AttributeNames=names)["Attributes"]

    # Nothing left behind (the shared stack's other tests may still have a job in flight).
    empty = {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    wait_for(lambda: counts() == empty, 20, "the jobs queue emptying", stack)
    return dead


def _pump_pids(stack: Stack) -> list[int]:
    return [int(pid) for pid in re.findall(r"started job pump[ \d]* \(pid (\d+)\)", stack.output())]


def _tagged(stack: Stack, token: str, tag: str) -> list[dict[str, Any]]:
    status, page = http_json("GET", f"{stack.api}/v1/contacts?tag={tag}&limit=200", token=token)
    assert status == 200, page
    return page["items"]


def test_a_restart_keeps_every_state_and_a_bulk_job_stopped_half_way_changes_each_contact_once(
    tmp_path: Path,
) -> None:
    """Ctrl-C in the middle of a bulk job, then `make run` again: the same users,
    tokens, items, files, dead letters and cursor secret, and the job finishes
    with every contact changed exactly once."""
    data_dir, log_path = tmp_path / "data", tmp_path / "stack.log"
    with running_stack(data_dir, log_path) as stack:
        status, session = http_json("POST", f"{stack.api}/v1/auth/login", DEMO)
        assert status == 200, session
        token = session["token"]
        status, colleague = http_json(
            "POST",
            f"{stack.api}/v1/users",
            {"email": "anna@demo.local", "name": "Anna", "password": "anna-password"},
            token,
        )
        assert status == 201, colleague
        stack.client("dynamodb").put_item(
            TableName=TABLE, Item={**MARKER, "note": {"S": "kept"}, "blob": {"B": b"\x00\xff"}}
        )
        stack.client("s3").put_object(
            Bucket=BUCKET, Key="t/e2e/marker.txt", Body=b"hello", ContentType="text/plain; charset=utf-8"
        )
        # Nothing consumes a dead-letter queue: its message must survive the restart.
        stack.client("sqs").send_message(QueueUrl=stack.queue_url("jobs-dlq"), MessageBody='{"kind": "e2e"}')
        secret_file = data_dir / "cursor-secret"
        secret = secret_file.read_text()
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600

        # Two chunks (a chunk holds 100 contacts), so the job is in flight across messages.
        ids = []
        for n in range(101):
            status, contact = http_json(
                "POST",
                f"{stack.api}/v1/contacts",
                {"kind": "person", "first_name": f"P{n}", "last_name": "Kunde"},
                token,
            )
            assert status == 201, contact
            ids.append(contact["id"])
        status, job = http_json(
            "POST", f"{stack.api}/v1/contacts/bulk", {"ids": ids, "action": "add_tags", "tags": ["Fair"]}, token
        )
        assert status == 202, job
        wait_for(lambda: _tagged(stack, token, "Fair"), 60, "the job's first contact", stack)
        pumps = _pump_pids(stack)
        for pid in pumps:  # frozen mid-job, so "half-way" holds whatever the machine's speed
            os.kill(pid, signal.SIGSTOP)
        half = len(_tagged(stack, token, "Fair"))
        assert 0 < half < len(ids)
        os.killpg(stack.proc.pid, signal.SIGINT)  # Ctrl-C: the stack sends the pumps SIGTERM ...
        for pid in pumps:
            os.kill(pid, signal.SIGCONT)  # ... which they see once running again, in the middle of a chunk
        assert stack.proc.wait(STOP_SECONDS) == 0, stack.output()
        assert port_is_free(stack.api_port) and port_is_free(stack.aws_port), stack.output()
        saved = json.loads((data_dir / "sqs.json").read_text())["queues"][QUEUE_PREFIX + "jobs"]
        assert {json.loads(m["body"])["kind"] for m in saved} == {"contacts.bulk"}, stack.output()

    with running_stack(data_dir, log_path) as stack:
        # Same token, same colleague, no second demo tenant.
        status, users = http_json("GET", f"{stack.api}/v1/users", token=token)
        assert status == 200, users
        assert sorted(u["email"] for u in users["items"]) == ["anna@demo.local", "owner@demo.local"]
        anna = {"email": "anna@demo.local", "password": "anna-password"}
        assert http_json("POST", f"{stack.api}/v1/auth/login", anna)[0] == 200
        item = stack.client("dynamodb").get_item(TableName=TABLE, Key=MARKER, ConsistentRead=True).get("Item")
        assert item == {**MARKER, "note": {"S": "kept"}, "blob": {"B": b"\x00\xff"}}
        obj = stack.client("s3").get_object(Bucket=BUCKET, Key="t/e2e/marker.txt")
        assert obj["Body"].read() == b"hello"
        assert obj["ContentType"] == "text/plain; charset=utf-8"
        messages = (
            stack.client("sqs")
            .receive_message(QueueUrl=stack.queue_url("jobs-dlq"), WaitTimeSeconds=1)
            .get("Messages", [])
        )
        assert [m["Body"] for m in messages] == ['{"kind": "e2e"}']
        assert secret_file.read_text() == secret  # cursors handed out before the restart stay valid

        def done() -> bool:
            status, state = http_json("GET", f"{stack.api}{job['status_url']}", token=token)
            return status == 200 and state["status"] == "done"

        # Generous: on a loaded machine a chunk can run out of its invocation's time (the jobs
        # function's 120 s) and, as on Lambda, come back after the queue's visibility timeout.
        wait_for(done, 300, "the job finishing after the restart", stack)
        state = http_json("GET", f"{stack.api}{job['status_url']}", token=token)[1]
        assert (state["succeeded"], state["failed"]) == (len(ids), 0)
        tagged = _tagged(stack, token, "Fair")
        assert sorted(c["id"] for c in tagged) == sorted(ids)
        assert {c["version"] for c in tagged} == {2}, "each contact changed exactly once"
        assert interrupt(stack) == 0, stack.output()
