"""A short, deterministic run of the fuzz harness (python -m fuzz runs it for as long as you
like): mutated real dumps through the reader, both scans (which must agree) and the index
builder, with no finding."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz.__main__ import fuzz  # noqa: E402
from fuzz.seeds import seed_dumps  # noqa: E402
from fuzz.targets import TARGETS  # noqa: E402


@pytest.fixture(scope="module")
def seeds():
    return seed_dumps()


@pytest.mark.parametrize("target", list(TARGETS))
def test_fuzz_smoke(target, seeds):
    # A CI machine may be busy: hangs are still caught, ordinary slowness is not a finding.
    stats = fuzz(target, seconds=15, seed=7, seeds=seeds, patience=5.0)
    assert stats["executions"] > 50
    assert stats["findings"] == 0, stats
    # Mutations must reach past the first error sometimes: some inputs still parse.
    assert stats["errors"] < stats["executions"]
