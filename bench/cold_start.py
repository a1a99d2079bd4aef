"""Cold start: how long `import app` takes, against a bare Chalice app.

What Lambda imports when a function starts cold: `app` for every Chalice
function (the API, each queue consumer and schedule: `import app` registers
them all, and the bench checks that it does against infra/aws/stack.py), and
its own handler module for a container-image function (the documents
function). Each import runs in a fresh interpreter (`python -c` timing
`import X` with time.perf_counter), entries and baseline interleaved, so all
see the same machine load. Reports the medians, the ratio of `app` and of
the heaviest entry to the baseline, and whether `import app` loaded any heavy
library that belongs behind a function-level import. No assertions: the
numbers are for reading, not for failing a build.

    python bench/cold_start.py [--runs 9] [--detail]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
sys.path.insert(0, str(REPO))  # infra.aws.stack: the functions and their entry modules

APP = "app"
BASELINE = "baseline_app"
# Must never be loaded by `import app` (DESIGN.md, "Cold start"); submodules count too.
HEAVY_MODULES = ("weasyprint", "openpyxl", "twilio.rest", "aws_xray_sdk", "PIL")

_PROBE = """\
import json, sys, time
started = time.perf_counter()
import {module}
seconds = time.perf_counter() - started
heavy = {heavy!r}
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
print(json.dumps({{"seconds": seconds, "heavy": loaded}}))
"""


@dataclass(frozen=True)
class Sample:
    seconds: float
    heavy: list[str]


def probe_env() -> dict[str, str]:
    """The subprocess environment: test stage, a region, repo root and bench/ importable."""
    env = dict(os.environ)
    env.update(CRM_STAGE="test", AWS_DEFAULT_REGION="eu-central-1")
    env.pop("CRM_AWS_ENDPOINT_URL", None)  # importing must not depend on an emulator
    paths = [str(REPO), str(BENCH)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=probe_env(), capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(f"subprocess failed: python {' '.join(args)[:80]}")
    return result


def entry_modules() -> list[str]:
    """`app`, then each container-image function's handler module (infra/aws/stack.py)."""
    from infra.aws.stack import FUNCTIONS

    images = sorted({f.image.handler.rsplit(".", 1)[0] for f in FUNCTIONS.values() if f.image is not None})
    return [APP, *images]


_FUNCTIONS_PROBE = """\
import json, app
print(json.dumps(sorted(app.app.handler_map) + (["api_handler"] if app.app.routes else [])))
"""


def missing_functions() -> list[str]:
    """The Chalice functions of infra/aws/stack.py that `import app` does not register (should be none)."""
    from infra.aws.stack import FUNCTIONS

    registered = set(json.loads(_run(["-c", _FUNCTIONS_PROBE]).stdout.strip().splitlines()[-1]))
    return sorted(name for name, f in FUNCTIONS.items() if f.image is None and name not in registered)


def measure(module: str) -> Sample:
    """Time `import module` once, in a fresh interpreter."""
    out = _run(["-c", _PROBE.format(module=module, heavy=HEAVY_MODULES)]).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return Sample(seconds=data["seconds"], heavy=data["heavy"])


def importtime(module: str) -> list[tuple[str, int, int]]:
    """`python -X importtime -c "import module"` as (name, self_us, cumulative_us) rows."""
    stderr = _run(["-X", "importtime", "-c", f"import {module}"]).stderr
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = [p.strip() for p in line[len("import time:") :].split("|")]
        if len(parts) == 3 and parts[0].isdigit():
            rows.append((parts[2], int(parts[0]), int(parts[1])))
    return rows


def print_detail(module: str, top: int = 10) -> None:
    rows = importtime(module)
    print(f"\n-X importtime, `import {module}` (one run), top {top} by cumulative time:")
    print(f"  {'cumulative ms':>13}  {'self ms':>8}  module")
    for name, self_us, cumulative_us in sorted(rows, key=lambda r: r[2], reverse=True)[:top]:
        print(f"  {cumulative_us / 1000:13.1f}  {self_us / 1000:8.1f}  {name}")
    by_package: dict[str, int] = {}
    for name, self_us, _ in rows:
        package = name.split(".")[0]
        by_package[package] = by_package.get(package, 0) + self_us
    print(f"\nself time summed per top-level package, top {top}:")
    for package, self_us in sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)[:top]:
        print(f"  {self_us / 1000:8.1f} ms  {package}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Import time of `app` against a bare Chalice app.")
    parser.add_argument("--runs", type=int, default=9, help="measurements of each module (default 9)")
    parser.add_argument("--detail", action="store_true", help="also print -X importtime's top modules")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    entries = entry_modules()
    modules = [*entries, BASELINE]
    # Warm-up, not counted: writes .pyc files and fills the OS file cache.
    for module in modules:
        measure(module)

    times: dict[str, list[float]] = {module: [] for module in modules}
    heavy: set[str] = set()
    for run in range(args.runs):
        shift = run % len(modules)  # each module takes each place in the order in turn
        for module in modules[shift:] + modules[:shift]:
            sample = measure(module)
            times[module].append(sample.seconds)
            if module == APP:
                heavy.update(sample.heavy)

    medians = {module: statistics.median(times[module]) for module in modules}
    base_s = medians[BASELINE]
    app_s = medians[APP]
    print(f"app {app_s:.3f} s  baseline {base_s:.3f} s  ratio {app_s / base_s:.2f}")
    print(
        f"  ({args.runs} runs each, interleaved; app min {min(times[APP]):.3f} max {max(times[APP]):.3f}, "
        f"baseline min {min(times[BASELINE]):.3f} max {max(times[BASELINE]):.3f})"
    )
    for module in entries[1:]:
        print(f"entry {module} {medians[module]:.3f} s  ratio {medians[module] / base_s:.2f}")
    heaviest = max(entries, key=lambda m: medians[m])
    print(f"heaviest entry: {heaviest}, ratio {medians[heaviest] / base_s:.2f}")
    print("heavy modules loaded by `import app`: " + (", ".join(sorted(heavy)) if heavy else "none"))
    missing = missing_functions()
    print("functions of infra/aws/stack.py not registered by `import app`: " + (", ".join(missing) or "none"))
    if args.detail:
        print_detail(APP)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
