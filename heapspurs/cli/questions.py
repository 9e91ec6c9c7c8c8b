"""Which question a run asks: one question per run, each modifier only with its question.

The questions are ``--print``, ``--find``, ``--address`` (alone: the graph; with ``--anchors``,
``--owners``, ``--hexdump``, ``--retained``: those, which combine — in JSON as one document) and
the whole-heap questions, and ``--http`` (the explorer, which takes ``--base`` as its diff page);
no option given is the summary. Anything else is a usage error that
names the options in conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import click

# Parameter names (as click passes them) of the questions: at most one per run.
QUESTIONS = ("print_records", "find_pattern", "address", "top_count", "suspects", "histogram",
             "unreachable", "goroutines", "base", "pprof_out", "cache_info", "cache_clear",
             "http")
# The questions about the object at --address; they combine with each other.
OBJECT_QUESTIONS = ("show_retained", "hexdump", "anchors", "owners")
GRAPH = "graph"  # --address alone
SUMMARY = "summary"  # no question at all
# Each modifier and the questions it modifies.
MODIFIERS: dict[str, tuple[str, ...]] = {
    "threshold": ("suspects",),
    "stacks": ("histogram", "base", "unreachable", "suspects"),
    "conservative": ("anchors",),
    "max_nodes": (GRAPH,),
    "all_owners": (GRAPH,),
    "output": (GRAPH,),
    "strict": ("program",),
    "no_browser": ("http",),
}
NO_JSON = ("print_records", "http")  # questions whose answer has no JSON form
_SPECIAL = {GRAPH: "--address (alone: the graph)", "program": "--program"}


def asked(given: Iterable[str], flag: Callable[[str], str], as_json: bool) -> list[str]:
    """The question(s) the options ``given`` (parameter names set on the command line) ask:
    one whole question, or several of ``OBJECT_QUESTIONS``; ``[SUMMARY]`` when none. Raises
    click.UsageError naming the conflicting options otherwise. ``flag`` turns a parameter name
    into the option as written (``top_count`` -> ``--top``)."""
    given = set(given)
    if "http" in given:
        given.discard("base")  # the explorer serves the diff against --base as one of its pages

    def name(p: str) -> str:
        return _SPECIAL.get(p) or flag(p)

    questions = [q for q in QUESTIONS if q in given]
    sub = [q for q in OBJECT_QUESTIONS if q in given]
    if len(questions) > 1:
        about = " ".join(["--address", *map(name, sub)])
        listed = [about if q == "address" else name(q) for q in questions]
        raise click.UsageError(f"{', '.join(listed)}: one question per run, ask them one at "
                               "a time")
    if sub and "address" not in given:
        raise click.UsageError(f"{', '.join(map(name, sub))} need --address")
    if sub:
        answered = set(sub)
    elif questions == ["address"]:
        answered = {GRAPH}
    else:
        answered = set(questions) or {SUMMARY}
    for modifier, targets in MODIFIERS.items():
        if modifier in given and not (answered | given) & set(targets):
            what = " or ".join(name(t) for t in targets)
            raise click.UsageError(f"{name(modifier)} goes with {what}, which this run does "
                                   "not ask")
    if as_json:
        for q in answered & set(NO_JSON):
            raise click.UsageError(f"{name(q)} has no JSON form: drop --json (or ask --find "
                                   "REGEX --json for objects as JSON)")
    return sub or sorted(answered)
