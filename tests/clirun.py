"""Run the heapspurs command in-process (fast) or as a real subprocess, for the tests."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass

from heapspurs.cli.main import main


@dataclass
class Result:
    status: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def run(*args: str) -> Result:
    """Call the command's entry point with ``args``; capture stdout, stderr and the exit status."""
    out, err = io.StringIO(), io.StringIO()
    status = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return Result(status, out.getvalue(), err.getvalue())


def run_process(*args: str, timeout: float = 60, shell_pipe: str | None = None) -> Result:
    """Run ``python -m heapspurs`` as a subprocess (optionally piped into a shell command)."""
    cmd = [sys.executable, "-m", "heapspurs", *map(str, args)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if shell_pipe:
        import shlex

        line = " ".join(shlex.quote(c) for c in cmd) + " | " + shell_pipe
        p = subprocess.run(["bash", "-o", "pipefail", "-c", line], capture_output=True,
                           text=True, timeout=timeout, env=env)
    else:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return Result(p.returncode, p.stdout, p.stderr)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def tool_present(path: str | None, what: str) -> bool:
    """Whether an external tool the tests use is installed. Missing, it fails the test in CI
    (CI=true: a failed install must not land untested work) and returns False elsewhere."""
    if path is None and in_ci():
        import pytest

        pytest.fail(f"{what} is not installed (CI=true: required; scripts/setup.sh installs it)")
    return path is not None


def needs_tool(path: str | None, what: str) -> None:
    """Skip the test when the tool is missing (fail it in CI)."""
    if not tool_present(path, what):
        import pytest

        pytest.skip(f"{what} is not installed (scripts/setup.sh installs the Debian package "
                    "when root)")
