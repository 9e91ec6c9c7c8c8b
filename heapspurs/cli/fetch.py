"""A dump given as a URL (``heapspurs http://host:6060/debug/heapdump ...``, served by the Go
package go/heapdump): downloaded into the cache folder's ``downloads`` (each fetch is a new
dump; the cache's size cap evicts old ones), or with ``--no-cache`` into a temporary folder
removed at exit; ``--save FILE`` keeps a copy. A refused connection, a timeout, an HTTP error or a
body that is not a heap dump is one clear line (exit 2)."""

from __future__ import annotations

import atexit
import shutil
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import click

from heapspurs.index.atomic_file import write_atomic
from heapspurs.index.cache import cache_root

DUMP_HEADER = b"go1.7 heap dump\n"
CHUNK = 1 << 20


class FetchError(ValueError):
    """A URL that gave no heap dump: the message names the URL and what went wrong."""


def is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https")


def download_folder(use_cache: bool) -> Path:
    root = cache_root() if use_cache else None
    if root is not None:
        folder = root / "downloads"
        folder.mkdir(exist_ok=True, mode=0o700)
        return folder
    folder = Path(tempfile.mkdtemp(prefix="heapspurs-download-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def fetch(url: str, use_cache: bool = True, timeout: float = 60.0,
          save: str | None = None) -> str:
    """Download the dump at ``url``; returns the local path. ``timeout`` bounds the connection
    and each read. Raises FetchError."""
    parts = urlsplit(url)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    name = f"{parts.hostname or 'host'}-{parts.port or ''}-{stamp}.heapdump"
    path = download_folder(use_cache) / name
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={
                "User-Agent": "heapspurs"}), timeout=timeout) as response:
            head = response.read(len(DUMP_HEADER))
            if head != DUMP_HEADER:
                shown = head.decode("latin-1")[:16].replace("\n", "\\n")
                raise FetchError(f"{url}: not a heap dump (the body starts with {shown!r}, "
                                 f"{response.headers.get('Content-Type') or 'no type'})")
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            write_atomic(path, lambda out: copy(response, out, head, total))
    except FetchError:
        raise
    except urllib.error.HTTPError as e:
        raise FetchError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise FetchError(f"{url}: no answer within {timeout:g} s") from None
        if isinstance(reason, ConnectionRefusedError):
            raise FetchError(f"{url}: connection refused (is the service listening there?)"
                             ) from None
        raise FetchError(f"{url}: {reason}") from None
    except TimeoutError:
        raise FetchError(f"{url}: no answer within {timeout:g} s") from None
    except (ConnectionError, OSError) as e:
        raise FetchError(f"{url}: {e.strerror or e}") from None
    if save:
        write_atomic(save, lambda out: copy_file(path, out))
    return str(path)


def copy(response: BinaryIO, out: BinaryIO, head: bytes, total: int | None) -> None:
    """The rest of the body after ``head``, with a progress bar on a terminal."""
    out.write(head)
    if total is None or not sys.stderr.isatty():
        shutil.copyfileobj(response, out, CHUNK)
        return
    with click.progressbar(length=total, label="Downloading the dump", file=sys.stderr) as bar:
        bar.update(len(head))
        while chunk := response.read(CHUNK):
            out.write(chunk)
            bar.update(len(chunk))


def copy_file(path: Path, out: BinaryIO) -> None:
    with open(path, "rb") as f:
        shutil.copyfileobj(f, out, CHUNK)
