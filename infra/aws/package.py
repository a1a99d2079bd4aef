"""`make package STAGE=prod`: the deployable template and zip, offline.

    python -m infra.aws.package --stage prod        # -> build/aws/prod/{sam.json,deployment.zip,resources.json}

1. A wheelhouse of the runtime requirements for Lambda's platform (python3.12,
   manylinux x86_64), downloaded once into build/wheelhouse/ and reused while
   requirements.txt is unchanged. That is the only step that needs PyPI.
2. The merge template, generated from infra/aws/stack.py and table_spec.
3. `chalice package --merge-template` with pip pointed at the wheelhouse only
   (no index, no pip configuration of this machine), so packaging needs no
   network and no AWS account.
4. Checks that the functions Chalice produced are exactly the ones
   infra/aws/stack.py sizes and gives roles to.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
# Chalice picks the Lambda runtime from the Python that runs it; we pin it
# instead: Pillow ships no python3.11 wheel for Lambda's platform, and the
# build machine's Python must not decide what runs in AWS.
RUNTIME = "python3.12"
PYTHON_VERSION = "3.12"
ARCHITECTURE = "x86_64"
# Lambda's python3.12 runtime has glibc 2.34: any manylinux wheel up to that runs there.
PLATFORMS = ["manylinux2014_x86_64"] + [f"manylinux_2_{minor}_x86_64" for minor in range(17, 35)]
DEFAULT_REGION = "eu-central-1"
# Only for Chalice's checks: the template itself names no region.
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing answers there


def wheelhouse(requirements: Path = REPO / "requirements.txt") -> Path:
    """build/wheelhouse/<runtime>-<arch>/, rebuilt only when requirements.txt changes."""
    target = BUILD / "wheelhouse" / f"{RUNTIME}-{ARCHITECTURE}"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = target / ".requirements.sha256"
    if stamp.is_file() and stamp.read_text() == digest:
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--dest",
        str(target),
        "-r",
        str(requirements),
    ]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    print(f"wheelhouse: downloading {requirements.name} for {RUNTIME} {ARCHITECTURE}", flush=True)
    subprocess.run(command, check=True)
    stamp.write_text(digest)
    return target


def _offline_pip_environment(wheels: Path) -> dict[str, str]:
    """Chalice runs pip; these make every pip call take the wheelhouse only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,  # ignore this machine's index and find-links settings
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(wheels),
            "PIP_ONLY_BINARY": ":all:",
            "PIP_PYTHON_VERSION": PYTHON_VERSION,
            "PIP_IMPLEMENTATION": "cp",
            "PIP_PLATFORM": " ".join(PLATFORMS),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            # Anything that still reaches for the network fails at once instead
            # of quietly making packaging depend on it.
            "HTTP_PROXY": DEAD_PROXY,
            "HTTPS_PROXY": DEAD_PROXY,
            "http_proxy": DEAD_PROXY,
            "https_proxy": DEAD_PROXY,
            "NO_PROXY": "",
            "no_proxy": "",
        }
    )
    env.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    # Chalice creates boto3 clients (for names only); without credentials
    # botocore would ask the instance metadata service over the network.
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def chalice_main() -> None:
    """`chalice` with the runtime pinned (run in a child process by package())."""
    from chalice.config import Config

    Config.lambda_python_version = property(lambda self: RUNTIME)  # type: ignore[assignment,method-assign]
    from chalice.cli import main

    sys.argv[0] = "chalice"
    sys.exit(main())


def check_functions(template: dict) -> None:  # type: ignore[type-arg]
    """Chalice's functions must be exactly the ones stack.py sizes and gives roles to."""
    from infra.aws import template as tpl

    packaged = {
        name
        for name, r in template["Resources"].items()
        if r.get("Type") == "AWS::Serverless::Function" and r["Properties"].get("PackageType") != "Image"
    }
    declared = {tpl.function_id(name) for name in tpl.chalice_functions()}
    problems = []
    if packaged - declared:
        problems.append(f"functions without an entry in infra/aws/stack.py FUNCTIONS: {sorted(packaged - declared)}")
    if declared - packaged:
        problems.append(f"FUNCTIONS entries Chalice did not produce: {sorted(declared - packaged)}")
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event_name, event in props.get("Events", {}).items():
            if event["Type"] == "SQS" and "Queue" not in event["Properties"]:
                problems.append(f"{name}: SQS event {event_name} has no queue (did Chalice rename its events?)")
    if problems:
        raise SystemExit("package: " + "; ".join(problems))


def package(stage: str, out: Path) -> Path:
    from infra.aws.template import merge_template

    wheels = wheelhouse()
    out.parent.mkdir(parents=True, exist_ok=True)
    merge = out.parent / f".{stage}-resources.json"
    merge.write_text(json.dumps(merge_template(stage), indent=1, sort_keys=True))
    shutil.rmtree(out, ignore_errors=True)
    command = [
        sys.executable,
        "-c",
        "from infra.aws.package import chalice_main; chalice_main()",
        "package",
        "--stage",
        stage,
        "--merge-template",
        str(merge),
        str(out),
    ]
    subprocess.run(command, check=True, cwd=REPO, env=_offline_pip_environment(wheels))
    shutil.move(str(merge), out / "resources.json")
    template = json.loads((out / "sam.json").read_text())
    check_functions(template)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.aws.package", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True, help="a stage of .chalice/config.json (dev, prod)")
    parser.add_argument("--out", type=Path, help="default: build/aws/<stage>")
    args = parser.parse_args(argv)
    stages = json.loads((REPO / ".chalice" / "config.json").read_text())["stages"]
    if args.stage not in stages:
        parser.error(f"unknown stage {args.stage!r}; .chalice/config.json has {sorted(stages)}")
    out = package(args.stage, args.out or BUILD / "aws" / args.stage)
    print(f"packaged {args.stage}: {out / 'sam.json'} and {out / 'deployment.zip'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
