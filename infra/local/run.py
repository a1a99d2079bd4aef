"""The one-machine CRM: `python -m infra.local.run` (what `make run` calls).

Starts, all on 127.0.0.1: a moto server (the AWS emulator), the table, bucket
and queues, the state saved under the data dir, the demo tenant, `chalice
local` (the API) and the job pump (SQS queues and schedules -> the Lambda
handlers). Saves the state every few seconds and on Ctrl-C/SIGTERM, then stops
everything it started. See infra/local/README.md.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger("local.run")

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_API_PORT = 8000
DEFAULT_AWS_PORT = 4566
# The fake Twilio REST API (infra/local/twilio_fake.py), for the fake's accounts.
DEFAULT_TWILIO_FAKE_PORT = 4567
DEFAULT_DATA_DIR = ".crm-data"
DEFAULT_SNAPSHOT_SECONDS = 3.0
DEFAULT_PUMP_WORKERS = 2
DEFAULT_REGION = "eu-central-1"
DEFAULT_OWNER_EMAIL = "owner@demo.local"
DEFAULT_OWNER_PASSWORD = "demo-password"

# `chalice local` copies the stage's environment_variables from
# .chalice/config.json over the process environment before importing the app,
# so `--stage dev` would turn CRM_STAGE back into "dev". We run a stage that
# config.json does not define (chalice then adds nothing) and put the deployed
# stage's variables into our environment ourselves, under our local values.
CHALICE_STAGE = "local"
DEPLOYED_STAGE = "dev"

# The `chalice` console script, minus botocore's "Found credentials" chatter.
_CHALICE_MAIN = (
    "import logging, sys; import infra.local.api_server; from chalice.cli import main; "
    "logging.getLogger('botocore').setLevel(logging.WARNING); sys.argv[0] = 'chalice'; sys.exit(main())"
)

CURSOR_SECRET_FILE = "cursor-secret"
LOCK_FILE = ".lock"
MOTO_LOG = "moto.log"
OUTBOX_DIR = "outbox"

MOTO_READY_SECONDS = 30
API_READY_SECONDS = 60
STOP_SECONDS = 10
# Variables that would point boto3 at real AWS credentials or another profile.
_DROPPED_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class StartupError(RuntimeError):
    pass


class Stopping(Exception):
    """A stop signal arrived while starting."""


@dataclass(frozen=True)
class Options:
    api_port: int
    aws_port: int
    data_dir: Path
    snapshot_seconds: float
    region: str
    pump_workers: int = DEFAULT_PUMP_WORKERS
    twilio_port: int = DEFAULT_TWILIO_FAKE_PORT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Options:
        return cls(
            api_port=int(env.get("CRM_PORT") or DEFAULT_API_PORT),
            aws_port=int(env.get("CRM_AWS_PORT") or DEFAULT_AWS_PORT),
            data_dir=Path(env.get("CRM_DATA_DIR") or DEFAULT_DATA_DIR).resolve(),
            snapshot_seconds=max(0.5, float(env.get("CRM_SNAPSHOT_SECONDS") or DEFAULT_SNAPSHOT_SECONDS)),
            region=env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            pump_workers=max(1, int(env.get("CRM_PUMP_WORKERS") or DEFAULT_PUMP_WORKERS)),
            twilio_port=int(env.get("CRM_TWILIO_FAKE_PORT") or DEFAULT_TWILIO_FAKE_PORT),
        )

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def aws_url(self) -> str:
        return f"http://{HOST}:{self.aws_port}"

    @property
    def twilio_url(self) -> str:
        return f"http://{HOST}:{self.twilio_port}"


class StopFlag:
    """Set from a signal handler; a plain attribute (no locks in signal context)."""

    def __init__(self) -> None:
        self.set = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if not self.set:
            log.info("%s received: stopping", signal.Signals(signum).name)
        self.set = True


# --- environment -------------------------------------------------------------------


def deployed_stage_environment() -> dict[str, str]:
    """environment_variables of the deployed stage, as Lambda would see them."""
    try:
        config = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    stage = config.get("stages", {}).get(DEPLOYED_STAGE, {})
    return {**config.get("environment_variables", {}), **stage.get("environment_variables", {})}


def cursor_secret(data_dir: Path) -> str:
    """Generated once and kept in the data dir, so cursors survive restarts."""
    path = data_dir / CURSOR_SECRET_FILE
    if path.is_file():
        secret = path.read_text(encoding="utf-8").strip()
        if secret:
            os.chmod(path, 0o600)
            return secret
    secret = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    os.replace(tmp, path)
    return secret


def configure_environment(options: Options) -> dict[str, str]:
    """Sets this process's environment (the in-process provisioning, restore
    and seed use it) and returns it for the children."""
    for name in _DROPPED_ENV:
        os.environ.pop(name, None)
    for name, value in deployed_stage_environment().items():
        os.environ.setdefault(name, str(value))
    os.environ.update(
        {
            "CRM_STAGE": "local",
            "CRM_AWS_ENDPOINT_URL": options.aws_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": options.region,
            # config.py prefers AWS_REGION; keep both in step.
            "AWS_REGION": options.region,
        }
    )
    # Twilio's webhooks are signed over CRM_PUBLIC_URL + path: locally, the API itself
    # (a tunnel's URL instead for a real Twilio account, README "Telephony").
    os.environ.setdefault("CRM_PUBLIC_URL", options.api_url)
    os.environ["CRM_TWILIO_FAKE_URL"] = options.twilio_url
    # Outgoing webhooks may go to receivers on this machine (config.py grants it to the local stage only).
    os.environ.setdefault("CRM_WEBHOOKS_ALLOW_LOOPBACK", "1")
    # CRM_TABLE_NAME, CRM_BUCKET_NAME, CRM_QUEUE_PREFIX: when unset, chalicelib.config's defaults apply everywhere.
    if not os.environ.get("CRM_CURSOR_SECRET"):
        os.environ["CRM_CURSOR_SECRET"] = cursor_secret(options.data_dir)
    # Every e-mail the stack sends is also written here as an .eml (API.md "Local stack").
    os.environ.setdefault("CRM_OUTBOX_DIR", str(options.data_dir / OUTBOX_DIR))
    _reset_chalicelib_caches()
    return dict(os.environ)


def _reset_chalicelib_caches() -> None:
    from chalicelib import bootstrap
    from chalicelib.config import reset_settings
    from chalicelib.storage.dynamo.aws import reset_clients
    from chalicelib.storage.queues import reset_queue_urls

    reset_settings()
    reset_clients()
    reset_queue_urls()
    bootstrap.reset()


# --- processes ---------------------------------------------------------------------


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec hook (Linux): if this process is killed hard, the kernel
    stops the children too, since they run in their own sessions."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def hook() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def spawn(
    name: str, args: list[str], env: Mapping[str, str], *, log_file: Path | None = None
) -> subprocess.Popen[bytes]:
    """Own session: Ctrl-C reaches only run.py, which then stops children in order
    (the final snapshot needs moto after the API and pump are gone)."""
    stdout = open(log_file, "wb") if log_file else None
    try:
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout else None,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )
    finally:
        if stdout:
            stdout.close()
    log.info("started %s (pid %d)", name, proc.pid)
    return proc


def stop_process(name: str, proc: subprocess.Popen[bytes], timeout: float = STOP_SECONDS) -> None:
    """SIGTERM to the process group, SIGKILL if it does not go in time."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %ss: killing it", name, timeout)
            _signal_group(proc, signal.SIGKILL)
            proc.wait(5)
    # Anything the leader left behind in its group goes too.
    _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def ensure_port_free(port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The servers set SO_REUSEADDR too: TIME_WAIT leftovers are no conflict.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as err:
            raise StartupError(f"{what} port {HOST}:{port} is in use ({err.strerror})") from err


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code
    except (OSError, ValueError):
        return None


# --- the demo tenant -------------------------------------------------------------------


def demo_login() -> tuple[str, str]:
    return (
        os.environ.get("CRM_LOCAL_OWNER_EMAIL") or DEFAULT_OWNER_EMAIL,
        os.environ.get("CRM_LOCAL_OWNER_PASSWORD") or DEFAULT_OWNER_PASSWORD,
    )


def seed_local() -> None:
    """Seeds the demo tenant and its owner with demo_login(), once: after a
    restart the restored owner is found and nothing is written."""
    from chalicelib.cli import ensure_demo_tenant, migrate

    # Data saved by an older version gets its derived data (search index) rebuilt once.
    migrated = migrate()
    if migrated.get("reindexed"):
        print(f"Rebuilt the search index of saved data (index version {migrated['index_version']}).", flush=True)
    email, password = demo_login()
    created = ensure_demo_tenant(email, password)
    if created:
        print(f"Created the demo tenant {created['tenant_id']}.", flush=True)
    print(f"Demo login: {email} / {password}  (CRM_LOCAL_OWNER_EMAIL / CRM_LOCAL_OWNER_PASSWORD)", flush=True)


# --- the stack ----------------------------------------------------------------------------


class Stack:
    def __init__(self, options: Options, stop: StopFlag):
        self.options = options
        self.stop = stop
        self.moto: subprocess.Popen[bytes] | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}  # API and pumps
        self.snapshotter: Any = None  # set once the restore succeeded; never save over data not restored
        self._lock_fd: int | None = None

    def start(self) -> None:
        options = self.options
        options.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock_data_dir()
        ensure_port_free(options.aws_port, "AWS emulator (CRM_AWS_PORT)")
        ensure_port_free(options.api_port, "API (CRM_PORT)")
        ensure_port_free(options.twilio_port, "fake Twilio (CRM_TWILIO_FAKE_PORT)")
        env = configure_environment(options)

        # moto's server with the DynamoDB adaptation the tests run on (infra/emulator).
        self.moto = spawn(
            "AWS emulator",
            ["-m", "infra.emulator", "-H", HOST, "-p", str(options.aws_port), "--data-dir", str(options.data_dir)],
            env,
            log_file=options.data_dir / MOTO_LOG,
        )
        self._wait_for(
            lambda: http_status(f"{options.aws_url}/moto-api/") == 200,
            MOTO_READY_SECONDS,
            "the AWS emulator",
            {"AWS emulator": self.moto},
        )

        from chalicelib.storage.dynamo.provision import create_resources
        from infra.local.snapshot import Snapshotter

        create_resources()
        snapshotter = Snapshotter(options.data_dir)
        counts = snapshotter.restore()
        self.snapshotter = snapshotter
        log.info("restored %(items)d item(s), %(objects)d object(s), %(messages)d message(s)", counts)
        seed_local()
        self._check_stop()

        self.children["twilio"] = spawn(
            "fake Twilio",
            [
                "-m",
                "infra.local.twilio_fake",
                "--host",
                HOST,
                "--port",
                str(options.twilio_port),
                "--data-dir",
                str(options.data_dir),
            ],
            env,
        )
        self.children["api"] = spawn(
            "chalice local",
            [
                "-c",
                _CHALICE_MAIN,
                "local",
                "--no-autoreload",
                "--host",
                HOST,
                "--port",
                str(options.api_port),
                "--stage",
                CHALICE_STAGE,
            ],
            env,
        )
        # More than one consumer of the same queues, like Lambda concurrency (see pump.py).
        batch = ["--max-batch", "1"] if options.pump_workers > 1 else []
        self.children["pump"] = spawn("job pump", ["-m", "infra.local.pump", *batch], env)
        for n in range(2, options.pump_workers + 1):
            self.children[f"pump {n}"] = spawn(
                f"job pump {n}", ["-m", "infra.local.pump", "--no-schedules", "--name", f"pump {n}", *batch], env
            )
        self._wait_for(
            lambda: http_status(f"{options.api_url}/health") == 200,
            API_READY_SECONDS,
            "GET /health",
            {"AWS emulator": self.moto, **self.children},
        )

    def serve(self) -> bool:
        """Until a stop signal (True) or a child's death (False); snapshots meanwhile."""
        interval = self.options.snapshot_seconds
        next_save = time.monotonic() + interval
        while not self.stop.set:
            dead = self._dead({"AWS emulator": self.moto, **self.children})
            if dead:
                log.error("%s exited unexpectedly: stopping the stack", dead)
                return False
            if time.monotonic() >= next_save:
                took = self._save(include_queues=False)
                # A big table makes a save slow (seconds at 5,000 contacts, holding up the emulator):
                # periodic saves are insurance against a hard kill, so a twentieth of the time at most.
                next_save = time.monotonic() + max(interval, 19 * took)
            time.sleep(0.2)
        return True

    def shutdown(self) -> bool:
        """Stops API and pump, takes the final snapshot, stops moto. True if all went well."""
        ok = True
        for proc in self.children.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        for name, proc in self.children.items():
            stop_process(name, proc)
        if self.snapshotter is not None and self.moto is not None and self.moto.poll() is None:
            ok = self._save(include_queues=True) >= 0
            if ok:
                log.info("state saved to %s", self.options.data_dir)
        if self.moto is not None:
            stop_process("AWS emulator", self.moto)
        self._unlock_data_dir()
        return ok

    def _save(self, *, include_queues: bool) -> float:
        """Seconds the save took, or -1 if it failed (logged; the stack goes on)."""
        started = time.monotonic()
        try:
            self.snapshotter.save(include_queues=include_queues)
        except Exception:
            log.exception("snapshot failed")
            return -1.0
        return time.monotonic() - started

    def _wait_for(
        self,
        ready: Callable[[], bool],
        seconds: float,
        what: str,
        watched: Mapping[str, subprocess.Popen[bytes] | None],
    ) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            self._check_stop()
            dead = self._dead(watched)
            if dead:
                raise StartupError(f"{dead} exited while waiting for {what}")
            if time.monotonic() > deadline:
                raise StartupError(f"{what} did not answer within {seconds:.0f}s")
            time.sleep(0.2)

    @staticmethod
    def _dead(procs: Mapping[str, subprocess.Popen[bytes] | None]) -> str | None:
        for name, proc in procs.items():
            if proc is not None and proc.poll() is not None:
                return f"{name} (exit code {proc.returncode})"
        return None

    def _check_stop(self) -> None:
        if self.stop.set:
            raise Stopping()

    def _lock_data_dir(self) -> None:
        # Two stacks on one data dir would overwrite each other's snapshots.
        fd = os.open(self.options.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            raise StartupError(f"another local stack uses {self.options.data_dir}") from err
        self._lock_fd = fd

    def _unlock_data_dir(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _fake_twilio_account() -> str:
    from infra.local.twilio_fake import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN

    return f"{DEMO_ACCOUNT_SID} / {DEMO_AUTH_TOKEN}"


def banner(options: Options) -> str:
    email, password = demo_login()
    return "\n".join(
        [
            "",
            "CRM local stack is ready",
            f"  API         {options.api_url}",
            f"  Docs        {options.api_url}/docs",
            f"  Demo login  {email} / {password}",
            f"  Data dir    {options.data_dir}  (saved every {options.snapshot_seconds:g}s and on exit)",
            f"  AWS (moto)  {options.aws_url}",
            f"  Twilio      {options.twilio_url}  (fake; account {_fake_twilio_account()}, README 'Telephony')",
            "  Stop with Ctrl-C",
            "",
        ]
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="[local] %(levelname)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    stop = StopFlag()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        options = Options.from_env(os.environ)
    except ValueError as err:
        log.error("bad setting: %s", err)
        return 2
    stack = Stack(options, stop)
    code = 0
    try:
        stack.start()
        print(banner(options), flush=True)
        if not stack.serve():
            code = 1
    except Stopping:
        pass
    except StartupError as err:
        log.error("%s", err)
        code = 1
    except Exception:
        log.exception("the local stack failed")
        code = 1
    finally:
        if not stack.shutdown():
            code = code or 1
    log.info("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
