"""Fixtures: real heap dumps of the Go programs in tests/goprogs, for each Go release tested."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gotools import GO_VERSIONS, NEWEST, run_dump  # noqa: E402


@pytest.fixture(scope="session", params=GO_VERSIONS)
def go_version(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def basics_run(go_version):
    return run_dump("basics", go_version)


@pytest.fixture(scope="session")
def leaks_run(go_version):
    return run_dump("leaks", go_version)


@pytest.fixture(scope="session")
def big_run():
    return run_dump("big", NEWEST)
