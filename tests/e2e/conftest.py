"""One local stack for the end-to-end tests that only need it running.

Starting `python -m infra.local.run` costs seconds of CPU (emulator, API,
pumps, migrations, the demo tenant); tests that do not stop or restart it
share one, started by the first that asks: one per xdist worker at most.
(Grouping them onto one worker with `--dist loadgroup` does not work with
pytest 9.2 and xdist 3.8: the group suffix xdist writes into the node id is
no longer read.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_local_stack import Stack, running_stack


@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root: Path = tmp_path_factory.mktemp("shared-stack")
    with running_stack(root / "data", root / "stack.log") as stack:
        yield stack
