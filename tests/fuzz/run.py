"""Fuzz the local stack's API with schemathesis (issue 19): `make fuzz`.

    python -m tests.fuzz.run [--max-examples N] [--seed S] [--workers W] [--min-requests R]

Starts the local stack (`python -m infra.local.run`, the helpers of
tests/e2e/test_local_stack.py) on free ports with a fresh data dir, signs in as
the demo owner, makes one record of each main kind (seed.py) and runs
schemathesis' CLI against `/openapi.json`: every operation, its examples,
the coverage phase (boundary values of each parameter and field), random
fuzzing (valid and invalid data), and the stateful phase (chains of calls
linked by the ids the answers carry: create a contact, then get, patch and
delete it). Every answer is checked: no 5xx, a status code, media type,
body and headers the document declares for it.

It prints what was sent (requests, operations reached of those declared, the
status codes seen) and exits non-zero on any failure, or when fewer than
``--min-requests`` requests were sent or an operation was never called.
The seed is fixed: a run repeats itself (up to the timing of the job pump).

Why here, beside the tests and not in infra/local: it is a test of the API
over the local stack, built on the end-to-end tests' stack helpers; the
local stack's own code stays free of test code.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.e2e.test_local_stack import DEMO, REPO_ROOT, http_json, running_stack
from tests.fuzz.seed import seed

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
PHASES = "examples,coverage,fuzzing,stateful"
CONFIG = Path(__file__).with_name("schemathesis.toml")
DEFAULT_SEED = 19
DEFAULT_MAX_EXAMPLES = 12
DEFAULT_MIN_REQUESTS = 5000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--phases", default=PHASES)
    parser.add_argument("--min-requests", type=int, default=DEFAULT_MIN_REQUESTS)
    parser.add_argument("--include-path-regex", default="", help="only these operations (while fixing one)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the stack log and reports in this directory")
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="crm-fuzz-") as tmp:
        work = options.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with running_stack(work / "data", work / "stack.log") as stack:
            status, session = http_json("POST", f"{stack.api}/v1/auth/login", DEMO)
            if status != 200:
                print(f"demo login answered {status}: {session}", file=sys.stderr)
                return 2
            seeded = seed(stack.api, session["token"])
            document = json.loads(_get(f"{stack.api}/openapi.json"))
            schema_file = work / "openapi.json"
            schema_file.write_text(json.dumps(document), encoding="utf-8")
            tally = work / "tally.json"
            command = [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(CONFIG),
                "run",
                # From a file: loaded from its URL, schemathesis leaves GET /openapi.json out of the operations.
                str(schema_file),
                "--url",
                stack.api,
                "--checks",
                ",".join(CHECKS),
                "--phases",
                options.phases,
                "--max-examples",
                str(options.max_examples),
                "--seed",
                str(options.seed),
                "--workers",
                str(options.workers),
                "--generation-database",
                "none",
                "--no-color",
                "--report",
                "junit",
                "--report-dir",
                str(work / "report"),
            ]
            if options.include_path_regex:
                command += ["--include-path-regex", options.include_path_regex]
            env = {
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
                "CRM_FUZZ_API": stack.api,
                "CRM_FUZZ_TOKEN": session["token"],
                "CRM_FUZZ_TALLY": str(tally),
            }
            # Run from the work dir: schemathesis keeps a .schemathesis/ directory in its working directory.
            fuzz = subprocess.run(command, cwd=work, env=env, check=False)
        elapsed = time.monotonic() - started
        print(f"seeded before the run: {len(seeded)} records ({', '.join(seeded)})")
        return _summary(options, fuzz.returncode, tally, document, elapsed, work)


def _get(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.read()


def _summary(
    options: argparse.Namespace, returncode: int, tally_path: Path, document: dict, elapsed: float, work: Path
) -> int:
    declared = {f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item}
    tally = json.loads(tally_path.read_text()) if tally_path.exists() else {"operations": {}, "statuses": {}}
    calls = Counter(tally["operations"])
    statuses = Counter(tally["statuses"])
    sent = sum(calls.values())
    scope = declared if not options.include_path_regex else set(calls)
    missed = sorted(scope - set(calls))
    print("\n==== fuzz summary ====")
    print(f"requests sent: {sent} (minimum {options.min_requests})")
    print(f"operations covered: {len(scope & set(calls))} of {len(scope)} declared")
    print("status codes: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    print(f"schemathesis exit code: {returncode} (0: no failure)")
    print(f"seed {options.seed}, max examples {options.max_examples}, workers {options.workers}, {elapsed:.0f} s")
    problems = []
    if returncode != 0:
        problems.append("schemathesis reported failures (above)")
    if sent < options.min_requests:
        problems.append(f"only {sent} requests sent")
    if missed:
        problems.append("operations never called: " + ", ".join(missed))
    five_xx = sum(n for s, n in statuses.items() if s.startswith("5"))
    if five_xx:
        problems.append(f"{five_xx} answers were 5xx")
    for problem in problems:
        print(f"FAILED: {problem}")
    if options.keep:
        print(f"stack log and reports kept in {work}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
