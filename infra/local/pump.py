"""The job pump: feeds the moto server's SQS queues and the app's schedules
into the same handler functions Lambda calls (``app.handler_map``).

Run by infra.local.run as ``python -m infra.local.pump`` with the stack's
environment, as ``CRM_PUMP_WORKERS`` processes (default 2: like a Lambda
with reserved concurrency 2, so a job's work overlaps with the emulator's);
only the first one fires the schedules (``--no-schedules`` for the others).
With more than one, each takes one message per invocation (``--max-batch
1``, as Lambda may): otherwise the first to poll takes all of a job's chunks.
Each process is single-threaded on purpose: one batch at a time, and no
thread-safety questions in chalicelib.

Stopping (SIGTERM/SIGINT): the batch in hand finishes its current item and
stops. The Lambda context it was given answers "no time left" from then on,
so a long job chunk stops between two items (domain/jobs/service.py) and
its message is kept; the stack then makes every message received and not
deleted visible again, saves it, and it resumes after the restart.

SQS semantics kept: messages listed in ``batchItemFailures`` (or every message
of a batch whose handler raised) are not deleted; they come back after the
queue's visibility timeout, and moto's redrive policy moves them to the DLQ
after maxReceiveCount.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import re
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from chalice.app import Cron, Rate, ScheduledEventConfig, SQSEventConfig

from chalicelib.config import get_settings
from chalicelib.storage.dynamo.aws import client

log = logging.getLogger("local.pump")

REPO_ROOT = Path(__file__).resolve().parents[2]
# The deployed stage whose per-function timeout/memory the fake context reports.
CONFIG_STAGE = "dev"
# Queues are short-polled in turn, and the loop rests this long when none had
# work: a long poll per empty queue would make each busy queue wait for all the
# empty ones (a second each), and a pump serves many queues.
IDLE_SECONDS = 0.25
FIRST_SCHEDULE_DELAY = 2.0
_RATE_SECONDS = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}
_RATE_STRING = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """What handlers and Powertools read off Lambda's context object."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    started: float = field(default_factory=time.monotonic)
    # True once the pump is told to stop: from then on no time is left.
    stopping: Callable[[], bool] = lambda: False

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{get_settings().region}:123456789012:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        if self.stopping():
            return 0
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


class FunctionLimits:
    """Timeout and memory per function, as `chalice package` would deploy them."""

    def __init__(self, stopping: Callable[[], bool] = lambda: False) -> None:
        from chalice.config import Config

        self.stopping = stopping
        try:
            with open(REPO_ROOT / ".chalice" / "config.json", encoding="utf-8") as handle:
                self._disk = json.load(handle)
        except (OSError, ValueError):
            self._disk = {}
        self._config = Config

    def context(self, name: str) -> LambdaContext:
        config = self._config(chalice_stage=CONFIG_STAGE, function_name=name, config_from_disk=self._disk)
        return LambdaContext(
            function_name=name,
            memory_limit_in_mb=config.lambda_memory_size or 128,
            timeout_seconds=config.lambda_timeout or 60,
            stopping=self.stopping,
        )


def rate_seconds(expression: Any) -> int | None:
    """Seconds between runs for a chalice Rate (or a "rate(...)" string); None for anything else."""
    if isinstance(expression, Rate):
        return expression.value * _RATE_SECONDS[expression.unit]
    if isinstance(expression, str):
        match = _RATE_STRING.match(expression.strip().lower())
        if match:
            unit = match.group(2).rstrip("s").upper() + "S"
            return int(match.group(1)) * _RATE_SECONDS[unit]
    return None


def _invoke(name: str, handler: Handler, event: dict[str, Any], limits: FunctionLimits) -> tuple[bool, Any]:
    """Calls one handler like Lambda would; a failure is logged, never raised."""
    try:
        return True, handler(event, limits.context(name))
    except Exception:  # the pump must outlive any handler bug
        log.error("handler %s failed:\n%s", name, traceback.format_exc())
        return False, None


# --- SQS ------------------------------------------------------------------------


@dataclass
class QueuePoller:
    name: str  # function name in handler_map
    queue_name: str
    batch_size: int
    url: str = ""
    arn: str = ""
    visibility: int = 30
    # messageId -> (receipt handle, monotonic time it becomes visible again)
    held: dict[str, tuple[str, float]] = field(default_factory=dict)

    def resolve(self) -> None:
        sqs = client("sqs")
        self.url = sqs.get_queue_url(QueueName=self.queue_name)["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn", "VisibilityTimeout"])
        self.arn = attrs["Attributes"]["QueueArn"]
        self.visibility = int(attrs["Attributes"].get("VisibilityTimeout", "30"))

    def poll(self, handler: Handler, limits: FunctionLimits) -> int:
        answer = client("sqs").receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(self.batch_size, 10)),
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        received_at = time.monotonic()
        for message in messages:
            self.held[message["MessageId"]] = (message["ReceiptHandle"], received_at + self.visibility)
        event = {"Records": [self._record(m) for m in messages]}
        ok, result = _invoke(self.name, handler, event, limits)
        ids = [m["MessageId"] for m in messages]
        failed = failed_ids(result, ids) if ok else set(ids)
        if failed and limits.stopping():
            log.info("%s: stopping: %d of %d message(s) kept, to be delivered again", self.name, len(failed), len(ids))
        elif failed:
            log.warning(
                "%s: %d of %d message(s) failed; they return after %ss",
                self.name,
                len(failed),
                len(ids),
                self.visibility,
            )
        self._delete([m for m in messages if m["MessageId"] not in failed])
        return len(messages)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": {k: _lambda_attribute(v) for k, v in (message.get("MessageAttributes") or {}).items()},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": get_settings().region,
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        sqs = client("sqs")
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            answer = sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)
            for failure in answer.get("Failed") or []:
                log.warning("%s: could not delete a message: %s", self.name, failure.get("Message"))
            for message in chunk:
                self.held.pop(message["MessageId"], None)

    def release(self) -> None:
        """At shutdown: make failed/in-flight messages visible now, so the final
        snapshot saves them instead of losing them to the visibility timeout."""
        now = time.monotonic()
        sqs = client("sqs")
        for receipt, visible_at in self.held.values():
            if visible_at > now:
                try:
                    sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=receipt, VisibilityTimeout=0)
                except Exception as err:  # a stale receipt handle is expected here
                    log.debug("release failed: %s", err)
        self.held.clear()


def failed_ids(result: Any, ids: list[str]) -> set[str]:
    """Message ids to keep, read from a partial batch response like Lambda does."""
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set()
    failures = result["batchItemFailures"]
    keep = {item.get("itemIdentifier") for item in failures if isinstance(item, dict)}
    if len(keep) != len(failures) or not keep <= set(ids):
        # Lambda treats a malformed partial response as a failure of the whole batch.
        log.warning("malformed batchItemFailures %r: whole batch kept", failures)
        return set(ids)
    return {str(i) for i in keep}


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {"dataType": value["DataType"], "stringListValues": [], "binaryListValues": []}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute


# --- the table's stream (webhooks) ------------------------------------------------


@dataclass
class StreamPoller:
    """Feeds the table's stream from the moto server into the function AWS
    feeds it into (handlers/background/webhooks.py), as Lambda's stream
    poller does: in order, a failed record and the ones after it again
    (after a pause), given up after MAX_RETRIES like the deployed mapping."""

    name: str  # function name in handler_map
    batch_size: int = 100
    tail: Any = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0
    retry_at: float = 0.0

    # The last record handed over (or given up), and when the emulator last forgot what came before.
    done_through: str | None = None
    trimmed_at: float = field(default_factory=time.monotonic)

    MAX_RETRIES = 10
    RETRY_PAUSE = 2.0
    # moto keeps every stream record (both images) and every iterator forever;
    # this often the emulator forgets those the pump is done with.
    TRIM_EVERY = 30.0

    def resolve(self) -> None:
        from chalicelib.storage.webhooks import StreamTail

        self.tail = StreamTail()
        self.tail.resolve()

    def trim(self) -> None:
        """Have the emulator forget the records handed over and every old
        iterator (POST /_crm/dynamodb/stream/trim), then read on after them."""
        from urllib.parse import urlencode
        from urllib.request import Request, urlopen

        settings = get_settings()
        if self.pending or not settings.aws_endpoint_url:
            return
        query = urlencode(
            {"region": settings.region, "table": settings.table_name, "through": self.done_through or "0"}
        )
        request = Request(f"{settings.aws_endpoint_url}/_crm/dynamodb/stream/trim?{query}", data=b"", method="POST")
        with urlopen(request, timeout=10) as answer:  # noqa: S310 - the emulator on loopback
            answer.read()
        self.tail.continue_after(self.done_through)
        self.trimmed_at = time.monotonic()

    def poll(self, handler: Handler, limits: FunctionLimits) -> int:
        if time.monotonic() - self.trimmed_at >= self.TRIM_EVERY:
            self.trim()
        if self.pending and time.monotonic() < self.retry_at:
            return 0
        if not self.pending:
            self.pending = self.tail.read(self.batch_size)
        if not self.pending:
            return 0
        records, count = self.pending, len(self.pending)
        ok, result = _invoke(self.name, handler, {"Records": records}, limits)
        sequence = [r["dynamodb"]["SequenceNumber"] for r in records]
        failed = failed_ids(result, sequence) if ok else set(sequence)
        if not failed:
            self.pending, self.retries, self.done_through = [], 0, sequence[-1]
            return count
        first = min(sequence.index(f) for f in failed)
        self.retries += 1
        if self.retries > self.MAX_RETRIES:
            log.error("%s: %d stream record(s) given up after %d retries", self.name, count - first, self.MAX_RETRIES)
            self.pending, self.retries, self.done_through = [], 0, sequence[-1]
        else:
            self.pending = records[first:]
            self.retry_at = time.monotonic() + self.RETRY_PAUSE
            log.warning("%s: %d stream record(s) failed; retried in %ss", self.name, count - first, self.RETRY_PAUSE)
        return count


def plain_consumers() -> dict[str, tuple[Handler, str, int]]:
    """function name -> (handler, queue name, batch size) for every function of
    infra/aws/stack.py that is not Chalice's and consumes a queue."""
    import importlib

    from infra.aws.stack import FUNCTIONS

    found: dict[str, tuple[Handler, str, int]] = {}
    for name, function in FUNCTIONS.items():
        if function.image is None or function.consumes is None:
            continue
        module, _, attribute = function.image.handler.rpartition(".")
        handler = getattr(importlib.import_module(module), attribute)
        found[name] = (handler, get_settings().queue_name(function.consumes), function.batch_size)
    return found


# --- schedules -------------------------------------------------------------------


@dataclass
class Schedule:
    name: str
    period: int
    next_run: float

    def event(self) -> dict[str, Any]:
        region = get_settings().region
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": [f"arn:aws:events:{region}:123456789012:rule/{self.name}"],
            "detail": {},
        }


# --- the loop --------------------------------------------------------------------


class StopFlag:
    """Set from a signal handler; plain attribute, no locks (signal-safe)."""

    def __init__(self) -> None:
        self.set = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.set = True


class Pump:
    def __init__(self, chalice_app: Any, stop: StopFlag, *, schedules: bool = True, max_batch: int = 10):
        self.handlers: dict[str, Handler] = dict(chalice_app.handler_map)
        self._stop = stop
        self.limits = FunctionLimits(stopping=lambda: self.stopping)
        self.pollers: list[QueuePoller] = []
        self.schedules: list[Schedule] = []
        # One reader of the stream (the pump that runs the schedules), as Lambda has one per shard.
        from chalicelib.handlers.background.webhooks import STREAM_FUNCTION

        self.stream = StreamPoller(STREAM_FUNCTION) if schedules and STREAM_FUNCTION in self.handlers else None
        start = time.monotonic()
        for source in chalice_app.event_sources:
            if isinstance(source, SQSEventConfig):
                queue = source.queue or (source.queue_arn or "").rsplit(":", 1)[-1]
                self.pollers.append(QueuePoller(source.name, queue, min(source.batch_size, max_batch)))
            elif isinstance(source, ScheduledEventConfig):
                if not schedules:
                    continue
                period = rate_seconds(source.schedule_expression)
                if period is None:
                    expression = source.schedule_expression
                    text = expression.to_string() if isinstance(expression, (Cron, Rate)) else str(expression)
                    log.warning("schedule %s (%s) is not run locally: only rate() is supported", source.name, text)
                    continue
                self.schedules.append(Schedule(source.name, period, start + FIRST_SCHEDULE_DELAY))
            else:
                log.warning("event source %s (%s) is not run locally", source.name, type(source).__name__)
        # Plain Lambda handlers the deployment runs outside Chalice (the documents
        # function, a container image on AWS) consume their queues here too.
        for name, (handler, queue, batch_size) in plain_consumers().items():
            self.handlers[name] = handler
            self.pollers.append(QueuePoller(name, queue, min(batch_size, max_batch)))

    @property
    def stopping(self) -> bool:
        return self._stop.set

    def describe(self) -> str:
        queues = ", ".join(f"{p.queue_name}->{p.name}" for p in self.pollers) or "none"
        schedules = ", ".join(f"{s.name} every {s.period}s" for s in self.schedules) or "none"
        stream = f"; table stream->{self.stream.name}" if self.stream else ""
        return f"queues: {queues}; schedules: {schedules}{stream}"

    def run(self) -> None:
        for poller in self.pollers:
            poller.resolve()
        if self.stream is not None:
            self.stream.resolve()
        while not self.stopping:
            self.run_due_schedules()
            busy = False
            if self.stream is not None:
                try:
                    busy = self.stream.poll(self.handlers[self.stream.name], self.limits) > 0
                except Exception:  # e.g. moto restarting: retry, do not die
                    log.error("reading the table's stream failed:\n%s", traceback.format_exc())
                    time.sleep(1)
            for poller in self.pollers:
                if self.stopping:
                    break
                try:
                    busy = poller.poll(self.handlers[poller.name], self.limits) > 0 or busy
                except Exception:  # e.g. moto restarting: retry, do not die
                    log.error("polling %s failed:\n%s", poller.queue_name, traceback.format_exc())
                    time.sleep(1)
            if not busy:
                time.sleep(IDLE_SECONDS)
        for poller in self.pollers:
            poller.release()

    def run_due_schedules(self) -> None:
        now = time.monotonic()
        for schedule in self.schedules:
            if now < schedule.next_run or self.stopping:
                continue
            # From now, not from the missed slot: a slow run does not cause a burst of catch-up runs.
            schedule.next_run = now + schedule.period
            ok, result = _invoke(schedule.name, self.handlers[schedule.name], schedule.event(), self.limits)
            if ok:
                log.info("schedule %s ran: %s", schedule.name, result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.pump", description=__doc__.splitlines()[0])
    parser.add_argument("--no-schedules", action="store_true", help="only deliver queue messages")
    parser.add_argument("--name", default="pump", help="the name in log lines")
    parser.add_argument(
        "--max-batch",
        type=int,
        default=10,
        help="messages per invocation at most (1 spreads a job's chunks over the workers)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=f"[{args.name}] %(levelname)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    stop = StopFlag()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Import here: the app's event sources read CRM_QUEUE_PREFIX at import time.
    sys.path.insert(0, str(REPO_ROOT))
    import app as app_module

    pump = Pump(app_module.app, stop, schedules=not args.no_schedules, max_batch=max(1, args.max_batch))
    log.info("started (%s)", pump.describe())
    pump.run()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
