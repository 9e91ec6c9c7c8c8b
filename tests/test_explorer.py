"""The explorer (#17): ``heapspurs DUMP --http :0`` serves the heap. Its API gives exactly the
command line's JSON for each question; bad requests get 400/404 JSON, a foreign Host header 403,
only its own static files are served; and a real browser (headless Chromium through
chromedriver) walks it: overview -> top retainer -> object page -> an anchor path step ->
owners opened -> flame graph zoomed, with and without --program, hostile names staying text."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from clirun import needs_tool, run

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "0xcaffe14e00000004"


class Server:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "heapspurs", *args, "--http", ":0",
                                      "--no-browser"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT)
        line = self.proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        if not m:
            self.proc.kill()
            raise AssertionError(f"no URL: {line!r} {self.proc.stderr.read()[-2000:]}")
        self.url = m.group(1)

    def get(self, path: str, host: str | None = None) -> tuple[int, bytes, str]:
        req = urllib.request.Request(self.url + path.lstrip("/"))
        if host:
            req.add_unredirected_header("Host", host)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("Content-Type", "")

    def api(self, path: str):
        status, body, ctype = self.get("/api/" + path)
        assert status == 200 and ctype == "application/json", (status, body[:300])
        return json.loads(body)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def oid_file(names_run, tmp_path_factory):
    f = tmp_path_factory.mktemp("explorer") / "oid.txt"
    f.write_text("".join(f"{k} {v}\n" for k, v in names_run.facts["oids"].items()))
    return f


@pytest.fixture(scope="module")
def base_dump(names_run, tmp_path_factory):
    copy = tmp_path_factory.mktemp("explorer-base") / "old.dump"
    shutil.copyfile(names_run.dump, copy)
    return copy


@pytest.fixture(scope="module", params=["program", "no-program"])
def served(request, names_run, oid_file, base_dump):
    names = ["--oid", str(oid_file)]
    if request.param == "program":
        names += ["--program", str(names_run.binary)]
    server = Server(str(names_run.dump), *names, "--base", str(base_dump))
    yield server, names
    server.stop()


def target(names_run) -> str:
    return names_run.facts["instances"]["main.Report"][0]


def cli_json(names_run, names, *args: str):
    res = run(names_run.dump, *names, *args, "--json")
    assert res.status == 0, res.err
    return json.loads(res.out)


@pytest.mark.parametrize("question", ["summary", "anchors", "owners", "hexdump", "retained",
                                      "top", "suspects", "goroutines", "histogram",
                                      "unreachable", "find", "base"])
def test_api_equals_the_command_line(served, names_run, base_dump, question):
    server, names = served
    a = target(names_run)
    api, cli = {
        "summary": ("summary", ()),
        "anchors": (f"anchors?address={a}", ("--address", a, "--anchors")),
        "owners": (f"owners?address={a}&depth=2", ("--address", a, "--owners", "2")),
        "hexdump": (f"hexdump?address={a}", ("--address", a, "--hexdump")),
        "retained": (f"retained?address={a}", ("--address", a, "--retained")),
        "top": ("top?n=7", ("--top", "7")),
        "suspects": ("suspects", ("--suspects",)),
        "goroutines": ("goroutines", ("--goroutines",)),
        "histogram": ("histogram", ("--histogram",)),
        "unreachable": ("unreachable", ("--unreachable",)),
        "find": ("find?pattern=main%5C.Report", ("--find", r"main\.Report")),
        "base": ("base", ("--base", str(base_dump))),
    }[question]
    assert server.api(api) == cli_json(names_run, names, *cli)


def test_children_walk_the_dominator_tree(served, names_run):
    server, names = served
    top = server.api("children?limit=5")
    assert top["object"] is None and len(top["children"]) <= 5
    retained = [c["retained"] for c in top["children"]]
    assert retained == sorted(retained, reverse=True)
    first = top["children"][0]
    below = server.api(f"children?address={first['address']}")
    assert below["object"]["address"] == first["address"]
    assert below["dominated"] == first["children"]
    assert sum(c["retained"] for c in below["children"]) <= first["retained"]
    # The same children as --retained (which lists the first 20).
    cli = cli_json(names_run, names, "--address", first["address"], "--retained")
    assert [c["address"] for c in below["children"][:20]] == [
        c["address"] for c in cli["children"]]


@pytest.mark.parametrize("path,status", [
    ("/api/anchors?address=nothex", 400), ("/api/anchors", 400),
    ("/api/top?n=-3", 400), ("/api/anchors?address=0x1&what=1", 400),
    ("/api/anchors?address=0x10", 404), ("/api/nosuch", 404), ("/nosuch", 404),
    ("/static/../server.py", 404), ("/static/%2e%2e/server.py", 404),
    ("/object/0x10", 404), ("/object/<script>", 400), ("/graph/0x10.svg", 404),
    ("/flame?address=javascript:alert(1)", 400)])
def test_bad_requests_get_a_clear_status_and_no_traceback(served, path, status):
    server, _ = served
    got, body, ctype = server.get(path)
    assert got == status, body[:300]
    assert b"Traceback" not in body
    if path.startswith("/api/"):
        assert ctype == "application/json" and "error" in json.loads(body)
    assert b"<script>" not in body


def test_a_foreign_host_header_is_refused(served):
    server, _ = served
    port = server.url.rsplit(":", 1)[1].strip("/")
    assert server.get("/api/summary", host=f"attacker.example:{port}")[0] == 403
    assert server.get("/api/summary", host=f"localhost:{port}")[0] == 200


def test_pages_escape_hostile_names(served, names_run):
    server, _ = served
    hostile = names_run.facts["instances"]["hostile"][0]
    status, body, _ = server.get(f"/object/{hostile}")
    assert status == 200
    assert b"<script>alert" not in body and b"evil&lt;script&gt;" in body
    status, body, _ = server.get("/search?pattern=evil")
    assert status == 200 and b"<script>alert" not in body and b"evil&lt;script&gt;" in body


def test_the_object_graph_links_nodes_to_their_pages(served, names_run):
    server, _ = served
    status, svg, ctype = server.get(f"/graph/{target(names_run)}.svg")
    assert status == 200 and ctype == "image/svg+xml"
    assert f'href="/object/{target(names_run)}"'.encode() in svg


CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    needs_tool(CHROMEDRIVER, "chromedriver (Debian package chromium-driver)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    needs_tool(chromium, "Chromium")
    try:
        from selenium import webdriver
    except ImportError:
        needs_tool(None, "selenium (pip install selenium)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1200,900"):
        opts.add_argument(flag)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=opts, service=service)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_a_browser_walks_the_explorer(served, browser, names_run, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    server, names = served
    wait = WebDriverWait(browser, 30)
    browser.get(server.url)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Overview"
    if "--program" in names and os.environ.get("HEAPSPURS_SCREENSHOTS"):
        browser.save_screenshot(str(ROOT / "images" / "explorer-overview.png"))
    # The top retainer's object page.
    link = browser.find_element(By.CSS_SELECTOR, "table.top a.obj")
    address = link.text
    link.click()
    wait.until(ec.url_contains("/object/"))
    assert address in browser.find_element(By.TAG_NAME, "h1").text
    # Follow an anchor path step (the first step of the first anchor: a root's object).
    steps = browser.find_elements(By.CSS_SELECTOR, "li.anchor a.obj")
    assert steps
    step = steps[0].text
    steps[0].click()
    wait.until(ec.url_contains("/object/" + step))
    # Open the owners of the target, a level at a time.
    browser.get(server.url + "object/" + target(names_run))
    if "--program" in names and os.environ.get("HEAPSPURS_SCREENSHOTS"):
        browser.save_screenshot(str(ROOT / "images" / "explorer-object.png"))
    button = browser.find_element(By.CSS_SELECTOR, "ul.owners button.expand")
    button.click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "ul.owners ul.owners li"))
    # The flame graph: click a box under the top to zoom into it.
    browser.get(server.url + "flame")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#flame .box")) > 1)
    box = browser.find_elements(By.CSS_SELECTOR, "#flame .box[data-address]")[0]
    zoom = box.get_attribute("data-address")
    box.click()
    wait.until(ec.url_contains("flame?address=" + zoom))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#flame .box"))
    top = browser.find_elements(By.CSS_SELECTOR, "#flame .box")[0]
    assert zoom in top.text
    # The dominator tree opens a level.
    browser.get(server.url + "tree")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#tree button.expand:enabled"))
    browser.find_element(By.CSS_SELECTOR, "#tree button.expand:enabled").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#tree ul li"))
    # A hostile OID name is text: no element made of it.
    browser.get(server.url + "object/" + names_run.facts["instances"]["hostile"][0])
    assert not browser.find_elements(By.TAG_NAME, "script")[1:]  # only explorer.js
    assert 'evil<script>alert("x")</script>' in browser.find_element(By.TAG_NAME, "h1").text
