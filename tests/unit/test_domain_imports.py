"""What of twilio the domain may use, beyond the import contracts.

import-linter can forbid only a whole third-party package, so the domain
contract ([tool.importlinter] in pyproject.toml) lets the voice webhooks
import ``twilio``. This holds the rest: only the signature check and the
TwiML builder (pure code, no network), and only inside functions, so the
HTTP function's cold start does not load the library.
"""

from __future__ import annotations

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "chalicelib" / "domain"
ALLOWED = ("twilio.request_validator", "twilio.twiml")


def _twilio_imports(tree: ast.Module) -> list[tuple[str, bool]]:
    """(module, at module level) of every twilio import in the tree."""
    found: list[tuple[str, bool]] = []
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [(name, id(node) in top_level) for name in names if name.split(".")[0] == "twilio"]
    return found


def test_the_domain_uses_only_twilios_pure_helpers_and_only_lazily() -> None:
    seen: dict[tuple[str, str], bool] = {}
    for source in sorted(DOMAIN.rglob("*.py")):
        for module, top_level in _twilio_imports(ast.parse(source.read_text(), str(source))):
            seen[(source.relative_to(DOMAIN).as_posix(), module)] = top_level
    assert seen, "the voice webhooks use twilio's helpers: the walk found none"
    for (name, module), top_level in seen.items():
        assert module.startswith(ALLOWED), f"{name} imports {module}"
        assert not top_level, f"{name} imports {module} at module level"
