"""The explorer's HTTP server (``heapspurs DUMP --http [HOST]:PORT``): the standard library's
threading server, the index loaded once and shared. Routes: the pages (``/``, ``/tree``,
``/flame``, ``/object/0xADDR``, ``/search``, ``/diff``), the keep-alive graph of an object
(``/graph/0xADDR.svg``), the JSON API (``/api/QUESTION?...``, ``/api/children``) and the
package's own static files.

Safety: it binds 127.0.0.1 unless told otherwise; a request whose Host header is not the
address it serves is refused (DNS rebinding); only the files of ``static/`` are served, by name;
bad parameters get 400 and unknown paths 404, with a JSON error for the API; no traceback reaches
a client. Graphs are drawn into a temporary folder of its own, never next to the dump.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from heapspurs.cli.commands import kept_indexes
from heapspurs.index.memory import give_back
from heapspurs.index.pages import release_all
from heapspurs.serve import pages
from heapspurs.serve.answers import ADDRESS, Answerer, ApiError
from heapspurs.serve.tree import children_json

STATIC = {p.name: p.read_bytes() for p in (Path(__file__).parent / "static").iterdir()
          if p.is_file()}
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# The questions the overview shows, in the order pages.overview takes them.
OVERVIEW = (("summary", {}), ("top", {"n": "20"}), ("suspects", {}), ("goroutines", {}),
            ("histogram", {}))
GRAPH_NODES = 60  # the object page's graph: a small budget keeps it readable and quick


class Explorer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, answerer: Answerer):
        super().__init__((host, port), Handler)
        self.answerer = answerer
        self.graphs = tempfile.TemporaryDirectory(prefix="heapspurs-graphs-")
        self.graph_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def allowed_hosts(self) -> set[str]:
        host, port = self.server_address[:2]
        names = {f"{host}:{port}"}
        if host in ("127.0.0.1", "::1"):
            names |= {f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"}
        return names

    def server_close(self) -> None:
        super().server_close()
        self.graphs.cleanup()


class Handler(BaseHTTPRequestHandler):
    server: Explorer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass  # quiet: the terminal shows the URL and errors only

    def do_GET(self) -> None:  # noqa: N802 (the base class's name)
        try:
            if self.headers.get("Host", "") not in self.server.allowed_hosts():
                self.send(403, json.dumps({"error": "this server answers only requests to "
                                                    + self.server.url}).encode(), "json")
                return
            self.route()
        except ApiError as err:
            self.fail(err.status, str(err))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as err:  # never a traceback to the client
            print(f"heapspurs: explorer: {type(err).__name__}: {err}", file=sys.stderr)
            self.fail(500, f"internal error ({type(err).__name__})")
        finally:
            # Between requests: an answer's temporaries back to the system, and the pages of
            # the index and the dump it touched (they stay in the page cache).
            give_back()
            release_all(*kept_indexes())

    def route(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        answerer = self.server.answerer
        base = bool(answerer.base)
        if path.startswith("/api/"):
            name = path[len("/api/"):]
            if name == "children":
                self.send(200, json.dumps(children_json(answerer, query)).encode(), "json")
            else:
                self.send(200, answerer.ask(name, query), "json")
        elif path == "/":
            self.page(pages.overview(*(answerer.json(n, g) for n, g in OVERVIEW), base))
        elif path.startswith("/object/"):
            address = path[len("/object/"):]
            self.page(pages.object_page(answerer.json("object", {"address": address}), base))
        elif path == "/tree":
            self.page(pages.tree_page(base))
        elif path == "/flame":
            address = query.get("address") or None
            if address is not None and not ADDRESS.fullmatch(address):
                raise ApiError(400, f"address must be a hex address, not {address!r}")
            self.page(pages.flame_page(address, base))
        elif path == "/search":
            pattern = query.get("pattern", "")
            doc, error = None, None
            if pattern:
                try:
                    doc = answerer.json("find", {"pattern": pattern})
                except ApiError as err:
                    if err.status == 404:
                        doc = {"objects": []}
                    else:
                        error = str(err)
            self.page(pages.search_page(pattern, doc, error, base))
        elif path == "/diff":
            self.page(pages.diff_page(answerer.json("base", {})))
        elif (m := re.fullmatch(r"/graph/(0x[0-9a-fA-F]{1,16})\.svg", path)) is not None:
            self.send(200, self.graph(m.group(1)), "svg")
        elif path.startswith("/static/") and path[len("/static/"):] in STATIC:
            name = path[len("/static/"):]
            self.send(200, STATIC[name], TYPES.get(Path(name).suffix, "text/plain"))
        else:
            raise ApiError(404, f"nothing at {path}")

    def graph(self, address: str) -> bytes:
        """The --address graph of the object, its nodes linked to their pages."""
        from heapspurs.analysis.keepalive import keepalive_graph
        from heapspurs.render.graph_file import write_graph
        from heapspurs.render.graph_view import graph_dot
        from heapspurs.render.records_text import hx

        ix = self.server.answerer.index()
        obj = ix.find(int(address, 16))
        if obj < 0:
            raise ApiError(404, f"no object at {address} in this dump")
        g = keepalive_graph(ix, obj, max_nodes=GRAPH_NODES)
        dot = graph_dot(ix, g, f"What keeps {hx(int(ix.addr[obj]))} alive",
                        link=lambda n: f"/object/{hx(int(ix.addr[n]))}")
        out = Path(self.server.graphs.name) / f"{address.lower()}.svg"
        with self.server.graph_lock:
            if not out.exists():
                write_graph(dot, str(out))
            return out.read_bytes()

    def page(self, html: str) -> None:
        self.send(200, html.encode(), "html")

    def fail(self, status: int, message: str) -> None:
        if urlsplit(self.path).path.startswith(("/api/", "/graph/")):
            self.send(status, json.dumps({"error": message}).encode(), "json")
        else:
            self.send(status, pages.error_page(status, message).encode(), "html")

    def send(self, status: int, body: bytes, kind: str) -> None:
        ctype = {"json": "application/json", "html": "text/html; charset=utf-8",
                 "svg": "image/svg+xml"}.get(kind, kind)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'self'; style-src 'self'; "
                         "img-src 'self' data:; object-src 'self'")
        self.end_headers()
        self.wfile.write(body)


def parse_listen(text: str) -> tuple[str, int]:
    """``[HOST]:PORT`` -> (host, port); the host defaults to 127.0.0.1."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--http takes [HOST]:PORT (e.g. :8080 or 0.0.0.0:8080), not {text!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def warm(answerer: Answerer) -> None:
    """Answer the overview's questions once in the background (the dominator tree, the
    histogram), so that pages answer at once; a request meanwhile waits for the one running."""
    for name, given in OVERVIEW:
        try:
            answerer.ask(name, given)
        except ApiError:
            pass
        give_back()
        release_all(*kept_indexes())


def serve(dump: str, listen: str, program: str | None, oid: str | None, base: str | None,
          use_cache: bool, browser: bool, memory: str | None = None) -> None:
    """Load the index (and the questions every page needs), print the URL, open a browser when
    there is a display, and serve until Ctrl-C."""
    import os
    import webbrowser

    host, port = parse_listen(listen)
    from heapspurs.cli.commands import keep_loaded

    keep_loaded()
    answerer = Answerer(dump, program, oid, base, use_cache, memory)
    answerer.json("summary", {})  # index and names now: errors before the server starts
    server = Explorer(host, port, answerer)
    print(f"heapspurs: serving {dump} at {server.url} (Ctrl-C stops)", flush=True)
    threading.Thread(target=warm, args=(answerer,), daemon=True).start()
    if browser and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                    or sys.platform == "darwin"):
        try:
            webbrowser.open(server.url)
        except Exception:  # a browser that will not start is no reason to stop serving
            pass
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
