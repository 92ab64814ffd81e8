from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import RunningProxy, running_proxy

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    """A fresh demo proxy (simulator, stand-in org, demo agents) on a loopback port."""
    with running_proxy(tmp_path) as running:
        yield running


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
