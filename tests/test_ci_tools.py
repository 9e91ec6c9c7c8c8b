"""In CI (CI=true) a missing external tool fails the tests that need it instead of skipping
them: a failed install must not land untested work."""

from __future__ import annotations

import pytest
from clirun import needs_tool, tool_present


def test_a_missing_tool_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Chromium is not installed"):
        needs_tool(None, "Chromium")
    assert tool_present("/usr/bin/dot", "Graphviz")
    monkeypatch.delenv("CI")
    assert not tool_present(None, "Graphviz")
    with pytest.raises(pytest.skip.Exception):
        needs_tool(None, "Chromium")
