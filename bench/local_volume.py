"""What the local stack holds (issue 9): contacts through the HTTP API, a bulk job, and the emulator's memory.

    python bench/local_volume.py [--contacts 5000] [--bulk 1000] [--keep]

Starts the local stack (``python -m infra.local.run``) on free ports with a
fresh data dir, logs in as the demo owner and creates contacts one by one
over HTTP (persons and companies, 1-3 tags, an e-mail and a phone each). At
100, 1,000 and 5,000 contacts (and at --contacts) it prints the emulator's
resident memory (VmRSS of its process) and the median latency of the last
100 creates. Then a bulk ``add_tags`` over --bulk contacts (a background
job through the job pump) and the time until ``GET /v1/jobs/{id}`` says
done. Last, Ctrl-C: how long the stack takes to save and stop, and how long
a restart takes until ``/health`` answers with everything restored.

Goals (issue 9): RSS under 1.5 GB at 5,000 contacts; median create latency at
5,000 within 1.5x of that at 100; the 1,000-contact bulk job under a minute.
The figures come from one run on whatever else the machine is doing: nothing
here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
DEMO = {"email": "owner@demo.local", "password": "demo-password"}
TAGS = ["Lead", "Customer", "Partner", "VIP", "Newsletter", "Supplier", "Press", "Event 2026"]
FIRST = ["Anna", "Bernd", "Clara", "David", "Eva", "Felix", "Greta", "Hans", "Ida", "Jonas", "Karla", "Lukas"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schulz"]
WINDOW = 100  # creates per latency median
GOAL_RSS_MB = 1536
GOAL_LATENCY_RATIO = 1.5
GOAL_BULK_SECONDS = 60


def free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def call(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


class LocalStack:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.api_port, self.aws_port = free_ports(2)
        self.api = f"http://{HOST}:{self.api_port}"
        self.log = data_dir / "stack.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 300) -> float:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "AWS_"))}
        env.update(
            {
                "CRM_PORT": str(self.api_port),
                "CRM_AWS_PORT": str(self.aws_port),
                "CRM_DATA_DIR": str(self.data_dir),
                "POWERTOOLS_LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        started = time.monotonic()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "infra.local.run"],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while not healthy(self.api):
            if self.proc.poll() is not None or time.monotonic() - started > timeout:
                raise SystemExit(f"the local stack did not start; see {self.log}:\n{self.tail()}")
            time.sleep(0.2)
        return time.monotonic() - started

    def stop(self, timeout: float = 120) -> float:
        assert self.proc is not None
        started = time.monotonic()
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise SystemExit(f"the stack did not stop within {timeout}s of Ctrl-C") from None
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def pids(self, name: str) -> list[int]:
        """The running children whose name starts with ``name`` ("AWS emulator", "job pump", ...)."""
        found = re.findall(rf"started ({name}[\w ]*) \(pid (\d+)\)", self.log.read_text(errors="replace"))
        return list({child: int(pid) for child, pid in found}.values())  # the last start of each

    def emulator_rss_mb(self) -> float:
        status = Path(f"/proc/{self.pids('AWS emulator')[0]}/status").read_text()
        return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)) / 1024  # type: ignore[union-attr]

    def cpu_seconds(self, name: str) -> float:
        """User + system CPU time of the children called ``name...`` so far."""
        total = 0
        for pid in self.pids(name):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def a_contact(n: int, rng: random.Random) -> dict[str, Any]:
    tags = rng.sample(TAGS, rng.randint(1, 3))
    details = [
        {"type": "email", "value": f"contact{n}@example.de"},
        {"type": "phone", "category": "mobile", "value": f"0170 {1000000 + n}"},
    ]
    if n % 5 == 0:
        return {
            "kind": "company",
            "company_name": f"Firma {n} GmbH",
            "tags": tags,
            "details": details,
            "access": "shared_read",
        }
    return {
        "kind": "person",
        "first_name": rng.choice(FIRST),
        "last_name": f"{rng.choice(LAST)} {n}",
        "tags": tags,
        "details": details,
        "access": "shared_read",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--bulk", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the data dir (printed) instead of deleting it")
    args = parser.parse_args()
    marks = sorted({m for m in (100, 1000, 5000, args.contacts) if m <= args.contacts})
    rng = random.Random(9)
    data_dir = Path(tempfile.mkdtemp(prefix="crm-local-volume-"))
    stack = LocalStack(data_dir)
    rows: list[tuple[int, float, float]] = []
    try:
        print(f"local stack in {data_dir}: started in {stack.start():.1f}s", flush=True)
        status, session = call("POST", f"{stack.api}/v1/auth/login", DEMO)
        assert status == 200, session
        token = session["token"]

        ids: list[str] = []
        latencies: list[float] = []
        began = time.monotonic()
        for n in range(1, args.contacts + 1):
            started = time.perf_counter()
            status, body = call("POST", f"{stack.api}/v1/contacts", a_contact(n, rng), token)
            latencies.append(time.perf_counter() - started)
            if status != 201:
                raise SystemExit(f"contact {n}: {status} {body}")
            ids.append(body["id"])
            if n in marks:
                median_ms = statistics.median(latencies[-WINDOW:]) * 1000
                rows.append((n, stack.emulator_rss_mb(), median_ms))
                print(
                    f"{n:>6} contacts  emulator RSS {rows[-1][1]:7.0f} MB  median create {median_ms:6.1f} ms"
                    f"  ({time.monotonic() - began:.0f}s so far)",
                    flush=True,
                )

        bulk_ids = ids[: args.bulk]
        cpu_before = {name: stack.cpu_seconds(name) for name in ("AWS emulator", "job pump")}
        started = time.monotonic()
        status, job = call(
            "POST",
            f"{stack.api}/v1/contacts/bulk",
            {"ids": bulk_ids, "action": "add_tags", "tags": ["Bench bulk"]},
            token,
        )
        assert status == 202, (status, job)
        while True:
            status, state = call("GET", f"{stack.api}/v1/jobs/{job['job_id']}", token=token)
            if state.get("status") == "done":
                break
            if time.monotonic() - started > 1800:
                raise SystemExit(f"the bulk job is not done after 30 minutes: {state}")
            time.sleep(0.5)  # each poll is a request of its own to the emulator the job needs
        bulk_seconds = time.monotonic() - started
        cpu = {name: stack.cpu_seconds(name) - before for name, before in cpu_before.items()}
        print(
            f"bulk add_tags over {len(bulk_ids)} contacts: {bulk_seconds:.1f}s "
            f"(succeeded {state['succeeded']}, failed {state['failed']}; CPU: emulator {cpu['AWS emulator']:.1f}s, "
            f"job pumps {cpu['job pump']:.1f}s)",
            flush=True,
        )
        rss_after_bulk = stack.emulator_rss_mb()

        stop_seconds = stack.stop()
        restart_seconds = stack.start()
        status, page = call("GET", f"{stack.api}/v1/contacts?limit=1&tag=Bench%20bulk", token=token)
        assert status == 200, page
        stack.stop()
    except BaseException:
        print(stack.tail(), file=sys.stderr)
        raise
    finally:
        stack.kill()
        if args.keep:
            print(f"data dir kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)

    first, last = rows[0], rows[-1]
    ratio = last[2] / first[2]
    print()
    print("| contacts | emulator RSS (MB) | median create (ms) |")
    print("|---:|---:|---:|")
    for n, rss, median_ms in rows:
        print(f"| {n:,} | {rss:,.0f} | {median_ms:.1f} |")
    print()
    print(f"emulator RSS after the bulk job: {rss_after_bulk:,.0f} MB")
    print(f"bulk job over {args.bulk:,} contacts: {bulk_seconds:.1f} s")
    print(
        f"Ctrl-C to stopped (final snapshot included): {stop_seconds:.1f} s; restart until /health: "
        f"{restart_seconds:.1f} s"
    )
    print()
    print(
        f"goal RSS < {GOAL_RSS_MB} MB at {last[0]:,}: {'met' if last[1] < GOAL_RSS_MB else 'MISSED'} ({last[1]:,.0f})"
    )
    print(
        f"goal median at {last[0]:,} <= {GOAL_LATENCY_RATIO}x at {first[0]:,}: "
        f"{'met' if ratio <= GOAL_LATENCY_RATIO else 'MISSED'} ({ratio:.2f}x)"
    )
    print(f"goal bulk job < {GOAL_BULK_SECONDS} s: {'met' if bulk_seconds < GOAL_BULK_SECONDS else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
