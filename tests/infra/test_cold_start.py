"""Cold-start rules (DESIGN.md, "Cold start"; "The house"):
- `import app` loads no heavy library (they are imported inside the function
  that needs them), and so constructs no X-Ray Tracer;
- `import app` creates no pydantic model and loads none of what blueprints
  import on first use (chalicelib/lazy.py): features' models, views and
  services, the job and event tables, and the libraries behind them;
- boto3 is imported only under chalicelib/storage, never in domain/ or handlers/.
No timing here: bench/cold_start.py measures, these tests check structure."""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY_MODULES = ("weasyprint", "openpyxl", "twilio.rest", "aws_xray_sdk", "PIL")
NO_BOTO3_DIRS = ("chalicelib/domain", "chalicelib/handlers")
# What blueprints import on first use (chalicelib/lazy.py, README "Adding a feature"): a module
# matching one of these (or a submodule of a library named here) loaded by `import app` is a regression.
DEFERRED = (
    "chalicelib.domain.*.models",
    "chalicelib.domain.*.service",
    "chalicelib.domain.settings.lists",
    "chalicelib.domain.shared.clock",
    "chalicelib.domain.shared.events",
    "chalicelib.domain.shared.records",
    "chalicelib.handlers.*.views",
    "chalicelib.bootstrap.jobs",
    "chalicelib.bootstrap.events",
    "chalicelib.storage",
    "boto3",
    "ulid",
    "phonenumbers",
    "babel",
    "email_validator",
    "jinja2",
    "jsonschema",
    "aws_lambda_powertools.utilities.batch",
)
_PROBE = """\
import json, sys
import app
from pydantic import BaseModel

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

models = sorted(
    f"{m.__module__}.{m.__qualname__}"
    for m in subclasses(BaseModel)
    if m.__module__.startswith(("chalicelib", "app")) and m.__qualname__ != "Model"
)
print(json.dumps({"modules": sorted(sys.modules), "models": models}))
"""


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


def deferred_in(modules: list[str]) -> list[str]:
    """The modules among ``modules`` that `import app` must leave to first use."""
    return [
        m
        for m in modules
        if any(fnmatch.fnmatchcase(m, pattern) or m.startswith(pattern + ".") for pattern in DEFERRED)
    ]


@pytest.fixture(scope="module")
def imported_app() -> dict[str, list[str]]:
    """What a fresh interpreter holds after `import app`: its modules and the pydantic models created."""
    env = {**os.environ, "CRM_STAGE": "test", "AWS_DEFAULT_REGION": "eu-central-1"}
    env.pop("CRM_AWS_ENDPOINT_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    # The probe imported the real app, every blueprint of it.
    assert {"app", "chalicelib.handlers.http.service", "chalicelib.handlers.reports.routes"} <= set(found["modules"])
    return found


def test_import_app_loads_no_heavy_module(imported_app: dict[str, list[str]]) -> None:
    # aws_xray_sdk absent also means no Tracer was constructed.
    assert heavy_in(imported_app["modules"]) == [], "import heavy libraries inside the function that needs them"


def test_import_app_creates_no_pydantic_model(imported_app: dict[str, list[str]]) -> None:
    # Each model class costs milliseconds to create, built or not: a blueprint imports its
    # models and views inside `with lazy_imports():` (chalicelib/lazy.py).
    assert imported_app["models"] == [], "import models lazily: handlers/<feature>/views.py, lazy_imports()"


def test_import_app_leaves_features_to_first_use(imported_app: dict[str, list[str]]) -> None:
    assert deferred_in(imported_app["modules"]) == [], "import these inside `with lazy_imports():`"


@pytest.mark.parametrize(
    "name, deferred",
    [
        ("chalicelib.domain.contacts.models", True),
        ("chalicelib.domain.invoices.service", True),
        ("chalicelib.handlers.contacts.views", True),
        ("chalicelib.bootstrap.jobs", True),
        ("chalicelib.storage.dynamo.aws", True),
        ("phonenumbers.phonenumberutil", True),
        ("aws_lambda_powertools.utilities.batch.base", True),
        ("chalicelib.domain.contacts.limits", False),
        ("chalicelib.domain.settings.list_specs", False),
        ("chalicelib.handlers.contacts.routes", False),
        ("chalicelib.bootstrap.container", False),
        ("aws_lambda_powertools.logging", False),
        ("babelfish", False),
    ],
)
def test_deferred_module_matching(name: str, deferred: bool) -> None:
    assert deferred_in([name]) == ([name] if deferred else [])


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
