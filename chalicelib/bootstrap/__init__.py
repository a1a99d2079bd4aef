"""The one composition root (container.py) and the one table of what follows
what (events.py). ``container()`` is the process's graph, built from the
settings on first use; tests build their own with fakes, or reset this one."""

from __future__ import annotations

from chalicelib.bootstrap.container import CALL_QUEUE, JOB_QUEUE, Container

_built: Container | None = None


def container() -> Container:
    global _built
    if _built is None:
        from chalicelib.config import get_settings

        _built = Container(get_settings())
    return _built


def reset() -> None:
    """Forget the built graph (tests and the local stack change the settings)."""
    global _built
    _built = None


__all__ = ["CALL_QUEUE", "JOB_QUEUE", "Container", "container", "reset"]
