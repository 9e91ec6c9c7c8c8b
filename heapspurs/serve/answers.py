"""The explorer's API answers: each question is answered by the command line's own code, in this
process, on the index the server loaded once (:func:`heapspurs.cli.commands.keep_loaded`), so that
``/api/anchors?address=X`` is exactly what ``heapspurs DUMP --address X --anchors --json``
prints. Parameters are checked here and turned into the command line's options; the command line
writes to stdout, so answers are taken one at a time (a lock), each in well under a second once
the index and its analyses are loaded.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heapspurs.index.heap_index import HeapIndex

ADDRESS = re.compile(r"0x[0-9a-fA-F]{1,16}")
MAX_PATTERN = 1000


class ApiError(Exception):
    """A question that cannot be answered: ``status`` is the HTTP status to give."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def address(value: str) -> str:
    if not ADDRESS.fullmatch(value):
        raise ApiError(400, f"address must be a hex address like 0xc000012340, not {value!r}")
    return value.lower()


def integer(low: int, high: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            n = int(value)
        except ValueError:
            raise ApiError(400, f"{value!r} is not a whole number") from None
        if not low <= n <= high:
            raise ApiError(400, f"{n} is outside {low}..{high}")
        return str(n)

    return check


def pattern(value: str) -> str:
    if not value or len(value) > MAX_PATTERN:
        raise ApiError(400, f"pattern must be 1 to {MAX_PATTERN} characters")
    return value


@dataclass(frozen=True)
class Question:
    """An API question: the command line's options for it, and its parameters (name ->
    (option, check, default or None when required))."""

    flags: tuple[str, ...]
    params: dict[str, tuple[str, Callable[[str], str], str | None]]


QUESTIONS: dict[str, Question] = {
    "summary": Question((), {}),
    "anchors": Question(("--anchors",), {"address": ("--address", address, None)}),
    "owners": Question((), {"address": ("--address", address, None),
                            "depth": ("--owners", integer(-1, 64), "1")}),
    "hexdump": Question(("--hexdump",), {"address": ("--address", address, None)}),
    "retained": Question(("--retained",), {"address": ("--address", address, None)}),
    # Everything the object page shows, in one run (the command line merges them).
    "object": Question(("--retained", "--hexdump", "--anchors"),
                       {"address": ("--address", address, None),
                        "depth": ("--owners", integer(-1, 64), "1")}),
    "top": Question((), {"n": ("--top", integer(1, 1000), "20")}),
    "suspects": Question(("--suspects",), {}),
    "goroutines": Question(("--goroutines",), {}),
    "histogram": Question(("--histogram",), {}),
    "unreachable": Question(("--unreachable",), {}),
    "find": Question((), {"pattern": ("--find", pattern, None)}),
    "base": Question((), {}),
}


class Answerer:
    """Answers questions about one dump (and its ``--program``, ``--oid``, ``--base``)."""

    def __init__(self, dump: str, program: str | None = None, oid: str | None = None,
                 base: str | None = None, use_cache: bool = True, memory: str | None = None):
        self.dump = dump
        self.base = base
        self.program, self.oid, self.use_cache = program, oid, use_cache
        self.common = [*(["--program", program] if program else []),
                       *(["--oid", oid] if oid else []),
                       *([] if use_cache else ["--no-cache"]),
                       *(["--memory", memory] if memory else [])]
        self.lock = threading.Lock()

    def argv(self, name: str, given: dict[str, str]) -> list[str]:
        """The command line asking question ``name`` with parameters ``given``."""
        q = QUESTIONS.get(name)
        if q is None:
            raise ApiError(404, f"no question {name!r}; the API answers "
                                f"{', '.join(sorted(QUESTIONS))} and children")
        if name == "base" and not self.base:
            raise ApiError(404, "the explorer was started without --base OLD_DUMP")
        unknown = set(given) - set(q.params)
        if unknown:
            raise ApiError(400, f"{name} takes no parameter {', '.join(sorted(unknown))}")
        args = [self.dump, *self.common, *q.flags, "--json"]
        if name == "base":
            args += ["--base", self.base or ""]
        for param, (option, check, default) in q.params.items():
            value = given.get(param, default)
            if value is None:
                raise ApiError(400, f"{name} needs the parameter {param}")
            args.append(f"{option}={check(value)}")
        return args

    def ask(self, name: str, given: dict[str, str]) -> bytes:
        """The JSON document the command line prints for the question; ApiError when it
        cannot be answered (404: nothing there; 400: a bad parameter)."""
        from heapspurs.cli.main import main

        args = self.argv(name, given)
        out, err = io.StringIO(), io.StringIO()
        status = 0
        with self.lock, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
            except SystemExit as e:
                status = e.code if isinstance(e.code, int) else 1
        if status == 0:
            return out.getvalue().encode()
        message = err.getvalue().strip().splitlines()
        text = message[-1] if message else "no answer"
        text = text.removeprefix("heapspurs: ").removeprefix("Error: ")
        raise ApiError({1: 404, 2: 400}.get(status, 500), text)

    def index(self) -> HeapIndex:
        """The dump's index with its names, as the answers use it (loaded once)."""
        from heapspurs.cli import commands

        with self.lock:
            return commands.load_index(self.dump, commands.Options(
                use_cache=self.use_cache, program=self.program, oid=self.oid))

    def json(self, name: str, given: dict[str, str]) -> Any:
        return json.loads(self.ask(name, given))
