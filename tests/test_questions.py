"""One question per run: every pair of questions is either one JSON document (the questions
about one object, merged) or exit status 2 naming both; a modifier without its question is a
usage error naming it; with --json, stdout holds exactly one JSON document."""

from __future__ import annotations

import itertools
import json

import pytest
from clirun import run
from gotools import NEWEST, run_dump

# The questions about the object at --address (combinable); the rest are one per run.
OBJECT = {"--anchors": ("--anchors",), "--owners": ("--owners", "1"),
          "--hexdump": ("--hexdump",), "--retained": ("--retained",)}


@pytest.fixture(scope="module")
def basics():
    return run_dump("basics", NEWEST)


@pytest.fixture
def questions(basics, tmp_path, monkeypatch):
    """Each question's options, by the option that names it."""
    monkeypatch.chdir(tmp_path)  # the graph writes heapdump.svg here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    old = tmp_path / "old.dump"
    old.write_bytes(basics.dump.read_bytes())
    return {"--print": ("--print",), "--find": ("--find", "main"),
            "--address": (), **OBJECT, "--top": ("--top", "3"), "--suspects": ("--suspects",),
            "--histogram": ("--histogram",), "--unreachable": ("--unreachable",),
            "--goroutines": ("--goroutines",), "--base": ("--base", str(old)),
            "--pprof": ("--pprof", str(tmp_path / "heap.pb.gz"))}


def one_object(basics) -> str:
    return next(o["addr"] for o in basics.facts["objects"] if o["what"] == "Mid")


def test_every_pair_of_questions(basics, questions):
    addr = one_object(basics)
    for a, b in itertools.combinations(questions, 2):
        args = [*questions[a], *questions[b]]
        if {a, b} & {"--address", *OBJECT}:
            args = ["--address", addr, *args]
        res = run(basics.dump, *args, "--json")
        if {a, b} <= {"--address", *OBJECT}:
            assert res.status == 0, (a, b, res.err)
            doc = json.loads(res.out)  # exactly one document: json.loads rejects a second one
            assert doc["object"]["address"] == addr
            for q, key in (("--anchors", "anchors"), ("--owners", "owners"),
                           ("--hexdump", "contents_hex"), ("--retained", "retained")):
                assert (key in doc) == (q in (a, b)), (a, b, list(doc))
        else:
            assert res.status == 2, (a, b, res.out[:200], res.err)
            assert res.out == ""
            assert a in res.err and b in res.err, (a, b, res.err)
            assert "one question per run" in res.err


@pytest.mark.parametrize("modifier,value,needs", [
    ("--threshold", "5", "--suspects"), ("--stacks", None, "--histogram"),
    ("--conservative", None, "--anchors"), ("--max-nodes", "10", "--address"),
    ("--all-owners", None, "--address"), ("--output", "x.svg", "--address"),
    ("--strict", None, "--program")])
def test_a_modifier_without_its_question_is_a_usage_error(basics, questions, modifier, value,
                                                          needs):
    given = (modifier,) if value is None else (modifier, value)
    for other in ("--top", "--goroutines") if modifier != "--strict" else ():
        res = run(basics.dump, *given, *questions[other])
        assert res.status == 2 and modifier in res.err and needs in res.err, res.err
    res = run(basics.dump, *given)  # no question: the summary, which it does not modify
    assert res.status == 2 and modifier in res.err and needs in res.err, res.err
    asked = {"--suspects": questions["--suspects"], "--histogram": questions["--histogram"],
             "--anchors": ("--address", one_object(basics), "--anchors"),
             "--address": ("--address", one_object(basics), "-o", "g.dot"),
             "--program": ("--program", str(basics.binary))}[needs]
    res = run(basics.dump, *asked, *given, "--json")
    assert res.status == 0, res.err
    json.loads(res.out)


def test_json_output_is_one_document_and_notices_go_to_stderr(basics, questions, tmp_path):
    addr = one_object(basics)
    res = run(basics.dump, "--address", addr, "-o", "g.dot", "--json")
    assert res.status == 0, res.err
    doc = json.loads(res.out)
    assert doc["output"] == "g.dot" and doc["nodes"] >= 2 and doc["object"]["address"] == addr
    assert "Wrote g.dot" in res.err and (tmp_path / "g.dot").exists()
    res = run(basics.dump, *questions["--pprof"], "--json")
    assert res.status == 0, res.err
    doc = json.loads(res.out)
    assert doc["objects"] > 0 and doc["output"].endswith("heap.pb.gz") and "Wrote" in res.err
    res = run(basics.dump, "--print", "--json")
    assert res.status == 2 and "--print" in res.err and res.out == ""


def test_questions_about_one_object_combine_in_text(basics):
    addr = one_object(basics)
    res = run(basics.dump, "--address", addr, "--hexdump", "--anchors")
    assert res.status == 0, res.err
    assert "anchor(s):" in res.out and "Pointer: 0x" in res.out


def test_version_names_python_numpy_and_the_native_extensions():
    import importlib
    import platform

    import numpy

    res = run("--version")
    assert res.status == 0, res.err
    assert res.out.startswith("heapspurs ")
    assert f"Python {platform.python_version()}" in res.out and numpy.__version__ in res.out
    for module in ("heapspurs.scan._cscan", "heapspurs.analysis._cgraph",
                   "heapspurs.names._cdwarf"):
        line = next(x for x in res.out.splitlines() if x.startswith(module))
        try:
            importlib.import_module(module)
            built = True
        except ImportError:
            built = False
        assert line.endswith(": native") == built, line


def test_the_explorer_is_a_question_of_its_own(basics, questions):
    # --http takes --base (its diff page) but no other question; --no-browser needs it; it has
    # no JSON form. (Each of these fails before a server would start.)
    for other in ("--top", "--find", "--print", "--histogram"):
        res = run(basics.dump, "--http", ":0", *questions[other])
        assert res.status == 2 and "--http" in res.err and other in res.err, res.err
    res = run(basics.dump, "--no-browser", *questions["--top"])
    assert res.status == 2 and "--no-browser" in res.err and "--http" in res.err, res.err
    res = run(basics.dump, "--http", ":0", "--json")
    assert res.status == 2 and "no JSON form" in res.err, res.err
