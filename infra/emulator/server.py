"""The local stack's AWS emulator: ``python -m infra.emulator -H 127.0.0.1 -p 4566``.

moto's server (``python -m moto.server``) with three differences:
- the DynamoDB adaptation (``dynamodb_patch.install()``) is loaded first;
- DynamoDB requests run one at a time: moto's DynamoDB is not thread-safe
  (a Query iterating a partition while a transaction writes it, or a
  transaction's undo racing another write), and werkzeug serves each request
  on its own thread. SQS long polls and S3 transfers are not held up by it;
- two requests for the stack's own bookkeeping, under ``/_crm/``:
  ``POST /_crm/sqs/release`` makes every message that was received but not
  deleted visible again (what SQS does after the visibility timeout), so
  the final snapshot saves it however its consumer stopped; and
  ``GET /_crm/dynamodb/writes`` counts the DynamoDB writes so far, so the
  periodic snapshot skips an unchanged table.
SIGTERM and SIGINT end the process at once: the stack saved its state over
HTTP before, and freeing millions of objects one by one at exit only delays
the stop.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any, Callable, Iterable

from infra.emulator.dynamodb_patch import install

ADMIN_PREFIX = "/_crm/"
_DYNAMODB_TARGET = "DynamoDB_"
_DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
                              "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"})

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


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


class EmulatorApp:
    """WSGI middleware over moto's dispatcher."""

    def __init__(self, moto_app: WsgiApp):
        self._moto = moto_app
        self._dynamodb = threading.Lock()
        self.dynamodb_writes = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN_PREFIX):
            return self._admin(environ.get("REQUEST_METHOD", "GET"), path[len(ADMIN_PREFIX):], start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(_DYNAMODB_TARGET):
            return self._moto(environ, start_response)
        with self._dynamodb:
            if target.rpartition(".")[2] in _DYNAMODB_WRITES:
                self.dynamodb_writes += 1
            # moto answers with a list body: the work is done when the call returns.
            return list(self._moto(environ, start_response))

    def _admin(self, method: str, action: str, start_response: StartResponse) -> list[bytes]:
        if method == "POST" and action == "sqs/release":
            answer: dict[str, Any] = {"released": release_received_messages()}
        elif method == "GET" and action == "dynamodb/writes":
            answer = {"writes": self.dynamodb_writes}
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "unknown emulator request"}']
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]


def _exit_now(signum: int, frame: FrameType | None) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds its own URLs (e.g. SQS queue URLs) from it

    install()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    signal.signal(signal.SIGTERM, _exit_now)
    signal.signal(signal.SIGINT, _exit_now)
    app = EmulatorApp(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
