"""Cold-start rules (DESIGN.md, "Cold start"; "The house"):
- `import app` loads no heavy library (they are imported inside the function
  that needs them), and so constructs no X-Ray Tracer;
- boto3 is imported only under chalicelib/storage, never in domain/ or handlers/.
No timing here: bench/cold_start.py measures, these tests check structure."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY_MODULES = ("weasyprint", "openpyxl", "twilio.rest", "aws_xray_sdk", "PIL")
NO_BOTO3_DIRS = ("chalicelib/domain", "chalicelib/handlers")


def heavy_in(modules: list[str]) -> list[str]:
    """The heavy modules (or their submodules) among ``modules``."""
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY_MODULES)]


def boto3_imports(path: Path) -> list[str]:
    """``file:line`` of every import of boto3 (or a submodule) anywhere in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name == "boto3" or name.startswith("boto3.") for name in names):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_import_app_loads_no_heavy_module() -> None:
    env = {**os.environ, "CRM_STAGE": "test", "AWS_DEFAULT_REGION": "eu-central-1"}
    result = subprocess.run(
        [sys.executable, "-c", "import app, sys, json; print(json.dumps(sorted(m for m in sys.modules)))"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert "app" in modules and "chalicelib.handlers.http.service" in modules  # the probe imported the real app
    # aws_xray_sdk absent also means no Tracer was constructed.
    assert heavy_in(modules) == [], "import heavy libraries inside the function that needs them"


@pytest.mark.parametrize(
    "name, heavy",
    [
        ("PIL", True),
        ("PIL.Image", True),
        ("twilio.rest", True),
        ("twilio.rest.api.v2010", True),
        ("aws_xray_sdk.core", True),
        ("weasyprint.text.fonts", True),
        ("openpyxl", True),
        ("twilio", False),
        ("twilio.request_validator", False),
        ("PILlow", False),
        ("openpyxl_x", False),
    ],
)
def test_heavy_module_matching(name: str, heavy: bool) -> None:
    assert heavy_in([name]) == ([name] if heavy else [])


def test_domain_and_handlers_do_not_import_boto3() -> None:
    files = [p for d in NO_BOTO3_DIRS for p in sorted((REPO / d).rglob("*.py"))]
    assert files, "no files found: the directories moved?"
    offenders = [hit for path in files for hit in boto3_imports(path)]
    assert offenders == [], "only chalicelib/storage may import boto3"


def test_boto3_import_detection_sees_storage() -> None:
    # The walker must find the one place that does import boto3, or the rule above proves nothing.
    assert boto3_imports(REPO / "chalicelib/storage/dynamo/aws.py")
    assert boto3_imports(REPO / "chalicelib/storage/dynamo/table.py")  # from boto3.dynamodb.types import ...
