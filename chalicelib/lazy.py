"""Imports that load on first use: how `import app` stays cheap (issue 19, cold start).

Every Lambda function of the Chalice app imports `app`, which imports every
blueprint. A feature's pydantic models (each class costs milliseconds to
create, built or not), services and libraries are needed by its own requests
only, so a blueprint imports them inside ``lazy_imports()``::

    from chalicelib.handlers.http.routing import Call, route
    from chalicelib.lazy import lazy_imports

    with lazy_imports():
        from chalicelib.domain.contacts.models import NewContact
        from chalicelib.handlers.contacts.views import ContactView

Each name is bound to a stand-in that imports its module on first use (a
call, an attribute, ``isinstance``, indexing, iteration) and then replaces
itself in the module's namespace by the real object, so later uses are plain
lookups. ``@route(body=NewContact, response=ContactView)`` keeps the stand-ins
and resolves them on the first request or OpenAPI build. Type checkers and
import-linter read the ``from ... import`` lines as they are.

Limits (the stand-in is not the object until first use): only
``from module import name [as alias]``; do not use a lazy name at import time
(base classes, pydantic field annotations, module-level code, default
arguments) nor in an ``except`` clause; ``is`` compares the stand-in until the
name is replaced. Modules that define pydantic models for a blueprint (its
views and query models) live in ``handlers/<feature>/views.py`` so routes can
import them lazily. tests/infra/test_cold_start.py checks that `import app`
creates no pydantic model and loads none of the deferred modules.
"""

from __future__ import annotations

import builtins
import importlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, cast

_UNSET: Any = object()


class Lazy:
    """An object made on first use: a name imported from a module, or what a factory returns."""

    __slots__ = ("_load", "_label", "_namespace", "_bound", "_target")

    def __init__(self, load: Callable[[], Any], label: str, namespace: dict[str, Any] | None = None) -> None:
        self._load = load
        self._label = label
        self._namespace = namespace
        self._bound = ""
        self._target = _UNSET

    def resolve(self) -> Any:
        if self._target is _UNSET:
            self._target = self._load()
            if self._namespace is not None and self._namespace.get(self._bound) is self:
                self._namespace[self._bound] = self._target  # later uses are plain lookups
        return self._target

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.resolve(), attribute)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __instancecheck__(self, instance: Any) -> bool:
        return isinstance(instance, self.resolve())

    def __subclasscheck__(self, subclass: Any) -> bool:
        return issubclass(subclass, self.resolve())

    def __getitem__(self, key: Any) -> Any:
        return self.resolve()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.resolve())

    def __len__(self) -> int:
        return len(self.resolve())

    def __contains__(self, item: Any) -> bool:
        return item in self.resolve()

    # Text of a lazy constant is the constant's (an f-string at import loads it: the guard test sees that).
    def __str__(self) -> str:
        return str(self.resolve())

    def __format__(self, spec: str) -> str:
        return format(self.resolve(), spec)

    def __repr__(self) -> str:
        state = "" if self._target is _UNSET else " (loaded)"
        return f"<lazy {self._label}{state}>"


def later(factory: Callable[[], Any], label: str = "") -> Any:
    """What ``factory()`` returns, made on first use (e.g. a model built from data at import time)."""
    return Lazy(factory, label or getattr(factory, "__qualname__", "factory"))


def _importer(module: str, name: str) -> Callable[[], Any]:
    def load() -> Any:
        loaded = importlib.import_module(module)
        try:
            return getattr(loaded, name)
        except AttributeError:  # `from package import submodule`
            return importlib.import_module(f"{module}.{name}")

    return load


def resolve(value: Any) -> Any:
    """``value`` itself, or the object a lazy name stands for."""
    return value.resolve() if type(value) is Lazy else value


class _Names:
    """What ``from module import ...`` sees inside ``lazy_imports()``."""

    def __init__(self, module: str, namespace: dict[str, Any], made: list[Lazy]) -> None:
        self._module = module
        self._namespace = namespace
        self._made = made

    def __getattr__(self, name: str) -> Lazy:
        if name.startswith("__"):
            raise AttributeError(name)
        stand_in = Lazy(_importer(self._module, name), f"{self._module}:{name}", self._namespace)
        self._made.append(stand_in)
        return stand_in


@contextmanager
def lazy_imports() -> Iterator[None]:
    """Within the block, ``from module import name`` binds a stand-in (see the module docstring)."""
    namespace = sys._getframe(2).f_globals  # the module whose body runs the `with`
    made: list[Lazy] = []
    original = builtins.__import__

    def importer(
        name: str,
        globals: Mapping[str, object] | None = None,
        locals: Mapping[str, object] | None = None,
        fromlist: Sequence[str] = (),
        level: int = 0,
    ) -> ModuleType:
        if globals is not namespace:  # another module (or thread) importing meanwhile: as usual
            return original(name, globals, locals, fromlist, level)
        if level != 0 or not fromlist or "*" in fromlist:
            raise ImportError("lazy_imports() takes `from absolute.module import name` only")
        return cast(ModuleType, _Names(name, namespace, made))

    builtins.__import__ = importer
    try:
        yield
    finally:
        builtins.__import__ = original
        # Learn the names the stand-ins are bound to (`import x as y`), so each can replace itself.
        for bound, value in namespace.items():
            if type(value) is Lazy and any(value is stand_in for stand_in in made):
                value._bound = bound
