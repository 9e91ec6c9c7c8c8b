"""Capture (#18): the Go package go/heapdump (vetted and tested with each Go release; every dump its
tests write is read by heapspurs), and heapspurs reading a dump from a URL: a real service built
with the package serves its dump, and heapspurs's anchors name the global the service says holds
its leaked object. A URL that refuses, does not answer or serves HTML is one line and exit 2."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
from clirun import run
from gotools import go_env

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "go" / "heapdump"
SERVICE = ROOT / "examples" / "service"


def go(version: str, *args: str, cwd: Path, env: dict | None = None) -> str:
    e = go_env(version)
    e.update(env or {})
    p = subprocess.run([str(Path(e["GOROOT"]) / "bin" / "go"), *args], cwd=cwd, env=e,
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, f"go {' '.join(args)} ({version}):\n{p.stdout}{p.stderr}"
    return p.stdout


def test_the_package_is_vetted_and_its_tests_pass(go_version, tmp_path):
    kept = tmp_path / "dumps"
    kept.mkdir()
    go(go_version, "vet", "./...", cwd=PACKAGE)
    gofmt = Path(go_env(go_version)["GOROOT"]) / "bin" / "gofmt"
    unformatted = subprocess.run([str(gofmt), "-l", "."], cwd=PACKAGE, capture_output=True,
                                 text=True, timeout=120)
    assert unformatted.returncode == 0 and unformatted.stdout == "", unformatted.stdout
    out = go(go_version, "test", "-count=1", "-v", "./...", cwd=PACKAGE,
             env={"HEAPDUMP_KEEP": str(kept)})
    for test in ("TestHandlerServesOneDumpAtATime", "TestOnSignalWritesOneDumpPerSignal",
                 "TestWatchWritesMaxDumpsAboveTheLimit", "TestWatchWritesNothingBelowTheLimit"):
        assert f"--- PASS: {test}" in out
    dumps = sorted(kept.iterdir())
    assert len(dumps) == 5  # WriteFile, Handler, OnSignal, Watch's two
    for dump in dumps:  # each one readable
        res = run(dump, "--json")
        assert res.status == 0, (dump.name, res.err)
        assert json.loads(res.out)["summary"]["objects"] > 100


@pytest.fixture(scope="module")
def service(go_version, tmp_path_factory):
    """The example service built with the package, listening on the loopback: (binary, facts)."""
    binary = tmp_path_factory.mktemp("service") / "service"
    go(go_version, "build", "-o", str(binary), ".", cwd=SERVICE)
    proc = subprocess.Popen([str(binary), "127.0.0.1:0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    facts = json.loads(proc.stdout.readline())
    yield binary, facts
    proc.kill()
    proc.wait()


def test_heapspurs_reads_a_dump_from_the_service(service, tmp_path, monkeypatch):
    binary, facts = service
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    saved = tmp_path / "kept.heapdump"
    res = run("--program", binary, facts["url"], "--address", facts["leaked"], "--anchors",
              "--json", "--save", saved)
    assert res.status == 0, res.err
    doc = json.loads(res.out)
    assert doc["object"]["address"] == facts["leaked"]
    assert doc["object"]["type"] == "main.Session"
    assert facts["global"] in {a["symbol"] for a in doc["anchors"]}
    # The download sits in the cache folder; --save kept a copy that answers the same.
    downloads = list((tmp_path / "xdg" / "heapspurs" / "downloads").iterdir())
    assert len(downloads) == 1 and downloads[0].read_bytes() == saved.read_bytes()
    again = run("--program", binary, saved, "--address", facts["leaked"], "--anchors", "--json")
    assert json.loads(again.out)["anchors"] == doc["anchors"]


def test_no_cache_downloads_leave_nothing_behind(service, tmp_path, monkeypatch):
    _, facts = service
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    res = run(facts["url"], "--no-cache", "--json")
    assert res.status == 0, res.err
    assert not (tmp_path / "xdg").exists() or not any((tmp_path / "xdg").rglob("*.heapdump"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    res = run(f"http://127.0.0.1:{free_port()}/debug/heapdump")
    assert res.status == 2 and "connection refused" in res.err
    assert len(res.err.strip().splitlines()) == 1 and "Traceback" not in res.err


def test_a_url_that_does_not_answer_times_out(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with socket.socket() as listener:  # accepts, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        res = run(f"http://127.0.0.1:{port}/debug/heapdump", "--timeout", "0.5")
    assert res.status == 2 and "no answer within 0.5 s" in res.err
    assert len(res.err.strip().splitlines()) == 1


def test_a_page_that_is_not_a_dump_is_one_line(service, tmp_path, monkeypatch):
    _, facts = service
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    home = facts["url"].rsplit("/debug/", 1)[0] + "/"
    res = run(home)
    assert res.status == 2 and "not a heap dump" in res.err and "text/html" in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.heapdump"))  # nothing kept of it


def test_save_and_timeout_need_a_url(service, tmp_path):
    res = run(str(tmp_path / "nothing.dump"))
    assert res.status == 2 and "does not exist" in res.err
    local = tmp_path / "copy.dump"
    binary, facts = service
    assert run(facts["url"], "--save", local, "--no-cache").status == 0
    res = run(local, "--save", tmp_path / "again.dump")
    assert res.status == 2 and "--save" in res.err and "URL" in res.err
