"""chalicelib/lazy.py: names imported inside ``lazy_imports()`` load on first use
and then are the real objects; nothing else changes how imports work."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.lazy import Lazy, later, resolve

TARGET = """
LOADS = []
LOADS.append(1)

class Thing:
    def __init__(self, value=0):
        self.value = value

    @classmethod
    def make(cls):
        return cls(7)

class Failure(Exception):
    pass

ITEMS = {"a": 1, "b": 2}
LIMIT = 100
"""

USER = """
from chalicelib.lazy import lazy_imports

with lazy_imports():
    from lazy_target import ITEMS, LIMIT, Thing
    from lazy_target import Failure as Problem
    from lazy_pkg import sub

def make():
    return Thing.make()

def check(value):
    return isinstance(value, Thing)
"""


@pytest.fixture()
def modules(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "lazy_target.py").write_text(textwrap.dedent(TARGET))
    (tmp_path / "lazy_user.py").write_text(textwrap.dedent(USER))
    (tmp_path / "lazy_pkg").mkdir()
    (tmp_path / "lazy_pkg" / "__init__.py").write_text("")
    (tmp_path / "lazy_pkg" / "sub.py").write_text("VALUE = 3\n")
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in ("lazy_target", "lazy_user", "lazy_pkg", "lazy_pkg.sub"):
        sys.modules.pop(name, None)


def test_nothing_loads_at_import(modules: Path) -> None:
    user = importlib.import_module("lazy_user")
    assert "lazy_target" not in sys.modules and "lazy_pkg.sub" not in sys.modules
    assert type(user.Thing) is Lazy and type(user.Problem) is Lazy


def test_first_use_loads_the_module_and_replaces_the_name(modules: Path) -> None:
    user = importlib.import_module("lazy_user")
    thing = user.make()
    target = sys.modules["lazy_target"]
    assert thing.value == 7 and type(thing) is target.Thing
    assert user.Thing is target.Thing  # later uses are plain lookups
    assert user.check(thing) and not user.check(object())
    assert target.LOADS == [1]


def test_aliases_operators_and_submodules(modules: Path) -> None:
    user = importlib.import_module("lazy_user")
    problem = user.Problem
    assert problem("x").args == ("x",)  # a call resolves the alias
    assert user.Problem is sys.modules["lazy_target"].Failure  # and rebinds the name it was imported as
    assert user.ITEMS["b"] == 2 and "a" in user.ITEMS and len(user.ITEMS) == 2
    assert user.sub.VALUE == 3  # `from package import submodule`


def test_text_of_a_lazy_constant_is_the_constants(modules: Path) -> None:
    user = importlib.import_module("lazy_user")
    assert f"up to {user.LIMIT} ids" == "up to 100 ids"
    assert str(user.LIMIT) == "100" and f"{user.LIMIT:>5}" == "  100"


def test_resolve_returns_objects_as_they_are(modules: Path) -> None:
    user = importlib.import_module("lazy_user")
    stand_in = user.Thing
    assert resolve(stand_in) is sys.modules["lazy_target"].Thing
    assert resolve(5) == 5


def test_later_builds_once_on_first_use() -> None:
    calls: list[int] = []

    def build() -> dict[str, int]:
        calls.append(1)
        return {"x": 1}

    value = later(build, "the table")
    assert calls == [] and "the table" in repr(value)
    assert value["x"] == 1 and value["x"] == 1
    assert calls == [1]


def test_only_from_imports_of_absolute_modules(tmp_path: Path) -> None:
    (tmp_path / "lazy_bad.py").write_text(
        "from chalicelib.lazy import lazy_imports\nwith lazy_imports():\n    import json\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ImportError, match="from absolute.module import name"):
            importlib.import_module("lazy_bad")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("lazy_bad", None)
    # The block restored the normal import afterwards.
    assert importlib.import_module("json").dumps([]) == "[]"
