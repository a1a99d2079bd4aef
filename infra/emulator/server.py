"""The local stack's AWS emulator: ``python -m infra.emulator -H 127.0.0.1 -p 4566``.

moto's server (``python -m moto.server``) with these differences:
- the DynamoDB adaptation (``dynamodb_patch.install()``) is loaded first;
- moto's dispatcher listed its own package directory (a stat of ~150
  folders) on every request to find the service; the list is read once;
- DynamoDB requests run one at a time: moto's DynamoDB is not thread-safe
  (a Query iterating a partition while a transaction writes it, or a
  transaction's undo racing another write), and werkzeug serves each request
  on its own thread. DynamoDB Streams reads (the pump's, for webhooks) take
  the same turn: a transaction's stream records exist until it is undone,
  and no reader may see those of a cancelled one. SQS long polls and S3
  transfers are not held up by it;
- requests for the stack's own bookkeeping, under ``/_crm/``:
  ``POST /_crm/sqs/release`` makes every message that was received but not
  deleted visible again (what SQS does after the visibility timeout), so
  the final snapshot saves it however its consumer stopped;
  ``POST /_crm/dynamodb/stream/trim?region=R&table=T&through=N`` forgets
  the table's stream records up to sequence number N, which the pump has
  handed to the webhooks function: moto keeps every record (with both item
  images) forever, where DynamoDB keeps 24 hours;
  ``GET /_crm/dynamodb/writes`` counts the DynamoDB writes so far, so the
  periodic snapshot skips an unchanged table; and, with ``--data-dir``,
  ``POST /_crm/dynamodb/save?region=R&table=T&file=F`` and ``.../load?...``
  write a table to the file F in that folder and read it back (tables.py):
  seconds where a Scan and BatchWriteItem took minutes.
SIGTERM and SIGINT end the process at once: the stack saved its state
before, and freeing millions of objects one by one at exit only delays the
stop.
"""

from __future__ import annotations

import argparse
import faulthandler
import functools
import hashlib
import inspect
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs

from infra.emulator.dynamodb_patch import install

# The moto function cached here and the SHA-256 of its source in the pinned moto
# (tests/infra/test_emulator_patch.py compares them, as for dynamodb_patch).
MODULE_LIST_SOURCE_SHA256 = "4f741a10b06500e840c3aaa1b4f02706e6f2bfbababc0e8a2a7b9c9d0e8957dc"

ADMIN_PREFIX = "/_crm/"
_DYNAMODB_TARGET = "DynamoDB_"
_DYNAMODB_STREAMS_TARGET = "DynamoDBStreams_"
_DYNAMODB_WRITES = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def module_list_source_sha256() -> str:
    from moto import backends

    function = getattr(backends.list_of_moto_modules, "__wrapped__", backends.list_of_moto_modules)
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


def cache_module_list() -> None:
    """moto's package folders do not change while it runs: list them once."""
    from moto import backends

    if not hasattr(backends.list_of_moto_modules, "__wrapped__"):
        listed = backends.list_of_moto_modules
        backends.list_of_moto_modules = functools.wraps(listed)(  # type: ignore[assignment]
            functools.cache(lambda: tuple(listed()))
        )


def release_received_messages() -> int:
    """Every SQS message received and not deleted becomes visible now; how many."""
    from moto.sqs.models import sqs_backends

    released = 0
    for account in list(sqs_backends.values()):
        for backend in list(account.values()):
            for queue in list(backend.queues.values()):
                for message in list(queue._messages):
                    if message.approximate_receive_count and not message.visible:
                        message.visible_at = 0.0
                        queue.pending_messages.discard(message)
                        released += 1
    return released


def _table(region: str, table_name: str) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region].get_table(table_name)


class EmulatorApp:
    """WSGI middleware over moto's dispatcher."""

    def __init__(self, moto_app: WsgiApp, data_dir: Path | None = None):
        self._moto = moto_app
        self._dynamodb = threading.Lock()
        self.dynamodb_writes = 0
        self._files = None
        if data_dir is not None:
            from infra.emulator.tables import TableFiles

            self._files = TableFiles(data_dir)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN_PREFIX):
            query = {name: values[0] for name, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
            return self._admin(environ.get("REQUEST_METHOD", "GET"), path[len(ADMIN_PREFIX) :], query, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith((_DYNAMODB_TARGET, _DYNAMODB_STREAMS_TARGET)):
            return self._moto(environ, start_response)
        with self._dynamodb:
            if target.rpartition(".")[2] in _DYNAMODB_WRITES:
                self.dynamodb_writes += 1
            # moto answers with a list body: the work is done when the call returns.
            return list(self._moto(environ, start_response))

    def _admin(self, method: str, action: str, query: dict[str, str], start_response: StartResponse) -> list[bytes]:
        if method == "POST" and action == "sqs/release":
            body = json.dumps({"released": release_received_messages()})
        elif method == "POST" and action == "dynamodb/stream/trim":
            try:
                table = _table(query.get("region", ""), query.get("table", ""))
                through = int(query.get("through", ""))
            except Exception as err:  # noqa: BLE001 - no such table, no number: the caller reads why
                return _json(start_response, "400 Bad Request", json.dumps({"error": repr(err)}))
            with self._dynamodb:
                body = json.dumps({"trimmed": trim_stream(table, through, query.get("region", ""))})
        elif method == "GET" and action == "dynamodb/writes":
            body = json.dumps({"writes": self.dynamodb_writes})
        elif method == "POST" and action in ("dynamodb/save", "dynamodb/load") and self._files is not None:
            name = query.get("file", "")
            if not name.endswith(".json") or Path(name).name != name:
                return _json(start_response, "400 Bad Request", '{"error": "file: a .json name in the data dir"}')
            try:
                table = _table(query.get("region", ""), query.get("table", ""))
                if action == "dynamodb/save":
                    body = json.dumps(self._files.save(table, name, self._dynamodb))
                else:
                    body = json.dumps({"items": self._files.load(table, name, self._dynamodb)})
            except Exception as err:  # noqa: BLE001 - e.g. no such table: the caller reads why
                return _json(start_response, "500 Internal Server Error", json.dumps({"error": repr(err)}))
        else:
            return _json(start_response, "404 Not Found", '{"error": "unknown emulator request"}')
        return _json(start_response, "200 OK", body)


def trim_stream(table: Any, through: int, region: str) -> int:
    """Drop the stream records up to sequence number ``through`` (inclusive);
    the shard's starting number moves on with them, so the numbers of the
    records kept and of those to come stay what they were (moto numbers a
    record by its position after the starting number). Every shard iterator
    of the table is forgotten too (moto keeps each one it ever handed out):
    the reader asks for a new one after the trim."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    shard = table.stream_shard
    if shard is None:
        return 0
    count = max(0, min(len(shard.items), through - shard.starting_sequence_number + 1))
    if count:
        # In place: a transaction's undo journal holds this list (it runs under the same lock, never across this).
        del shard.items[:count]
        shard.starting_sequence_number += count
    iterators = dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][region].shard_iterators
    for arn in [arn for arn, iterator in iterators.items() if iterator.stream_shard is shard]:
        del iterators[arn]
    return count


def _json(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _exit_now(signum: int, frame: FrameType | None) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    parser.add_argument("--data-dir", type=Path, help="where /_crm/dynamodb/save and load keep tables")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds its own URLs (e.g. SQS queue URLs) from it

    install()
    cache_module_list()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>`: every thread's stack into the log
    signal.signal(signal.SIGTERM, _exit_now)
    signal.signal(signal.SIGINT, _exit_now)
    app = EmulatorApp(DomainDispatcherApplication(create_backend_app), args.data_dir)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
