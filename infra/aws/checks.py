"""`make lint-infra`: cfn-lint and checkov on the packaged template.

    python -m infra.aws.checks build/aws/prod/sam.json --tools build/infra-venv/bin

cfn-lint must report no error (it validates SAM resources against SAM's
schema). checkov must fail no check except those in
infra/aws/checkov-exceptions.yaml, each for the resource types listed there;
an exception that no longer fails is an error too, so the list stays honest.
Then infra/aws/moto_stack.py translates the template with aws-sam-translator
(as AWS's SAM transform would) and creates it in moto's CloudFormation. The
tools live in their own virtualenv (Makefile): their pins are not the app's.

A passing run leaves a stamp of what it checked; the same template, exceptions
and tools are not checked twice (checkov takes about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
EXCEPTIONS = HERE / "checkov-exceptions.yaml"


def load_exceptions(path: Path = EXCEPTIONS) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(path.read_text()) or {}
    for check, entry in data.items():
        if not isinstance(entry, dict) or not str(entry.get("reason", "")).strip() or not entry.get("resources"):
            raise SystemExit(f"{path.name}: {check} needs `resources` and a `reason`")
    return data


def compare(failed: list[dict[str, Any]], exceptions: dict[str, dict[str, Any]]) -> list[str]:
    """Problems: failures not excepted, and exceptions nothing failed."""
    problems, used = [], set()
    for failure in failed:
        check, resource = failure["check_id"], failure["resource"]
        resource_type = resource.rsplit(".", 1)[0]
        allowed = exceptions.get(check)
        if allowed and resource_type in allowed["resources"]:
            used.add(check)
            continue
        problems.append(f"checkov {check} ({failure['check_name']}) fails for {resource}")
    for check in sorted(set(exceptions) - used):
        problems.append(f"checkov-exceptions.yaml lists {check}, which no longer fails: remove it")
    return problems


def run_cfn_lint(tools: Path, template: Path) -> list[str]:
    result = subprocess.run(
        [str(tools / "cfn-lint"), "--format", "parseable", str(template)], capture_output=True, text=True
    )
    print(result.stdout, end="")
    # Exit status is a bit mask: 2 errors, 4 warnings, 8 informational; 1 the tool itself failed.
    if result.returncode & 1 or result.returncode & 2:
        return [f"cfn-lint reports errors (exit {result.returncode}): {result.stderr.strip()[-2000:]}"]
    return []


def run_checkov(tools: Path, template: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            str(tools / "checkov"),
            "--file",
            str(template),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        raise SystemExit(f"checkov did not answer JSON (exit {result.returncode}): {result.stderr[-2000:]}") from None
    reports = report if isinstance(report, list) else [report]
    if (
        not reports
        or any(r.get("summary", {}).get("parsing_errors") for r in reports)
        or not sum(r.get("summary", {}).get("resource_count", 0) for r in reports)
    ):
        raise SystemExit(f"checkov could not read {template}: {json.dumps([r.get('summary') for r in reports])}")
    return [f for r in reports for f in r["results"]["failed_checks"]]


def run_moto_stack(tools: Path, out: Path) -> list[str]:
    result = subprocess.run(
        [str(tools / "python"), "-W", "ignore", "-m", "infra.aws.moto_stack", str(out)],
        capture_output=True,
        text=True,
        cwd=HERE.parents[1],
    )
    lines = [line for line in result.stdout.splitlines() if not line.startswith("No Moto CloudFormation support")]
    print("\n".join(lines))
    if result.returncode:
        return [f"moto deploy (exit {result.returncode}): {result.stderr.strip()[-3000:]}"]
    return []


def _fingerprint(tools: Path, template: Path) -> str:
    digest = hashlib.sha256()
    for path in (template, template.with_name("deployment.zip"), EXCEPTIONS, Path(__file__), HERE / "moto_stack.py"):
        digest.update(path.read_bytes())
    digest.update(str(sorted(p.name for p in (tools.parent / "lib").glob("*/site-packages/*.dist-info"))).encode())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.aws.checks", description=__doc__.splitlines()[0])
    parser.add_argument("template", type=Path)
    parser.add_argument("--tools", type=Path, required=True, help="bin/ of the virtualenv with cfn-lint and checkov")
    args = parser.parse_args(argv)
    stamp = args.template.with_name(".checked")
    fingerprint = _fingerprint(args.tools, args.template)
    if stamp.is_file() and stamp.read_text() == fingerprint:
        print(f"infra checks: {args.template} unchanged since it passed")
        return 0
    stamp.unlink(missing_ok=True)
    exceptions = load_exceptions()
    problems = run_cfn_lint(args.tools, args.template)
    failed = run_checkov(args.tools, args.template)
    problems += compare(failed, exceptions)
    if not problems:
        problems += run_moto_stack(args.tools, args.template.parent)
    if problems:
        print("\n".join(["infra checks failed:", *problems]), file=sys.stderr)
        return 1
    stamp.write_text(fingerprint)
    print(
        f"infra checks: cfn-lint clean; checkov clean but for {len(exceptions)} listed exceptions "
        f"({len(failed)} excepted failures); created in moto"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
