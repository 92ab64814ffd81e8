"""Each test's outcome on its item, so a cluster fixture knows its test failed (a fixture is
not told) and keeps the nodes' logs and shows their tails (tests/cluster.py)."""

from __future__ import annotations

from collections.abc import Generator

import pytest


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


CALL_FAILED = pytest.StashKey[bool]()


def call_failed(request: pytest.FixtureRequest) -> bool:
    failed: bool = request.node.stash.get(CALL_FAILED, False)
    return failed
