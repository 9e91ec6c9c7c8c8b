"""Turn DOT text into the requested file (svg, png, pdf or dot) with Graphviz's ``dot``."""

from __future__ import annotations

import shutil
from pathlib import Path

from heapspurs.render.files import write_atomic

FORMATS = ("svg", "png", "pdf", "dot")


class GraphvizMissing(Exception):
    """``dot`` is not installed; the .dot file was written instead (exit status 3)."""


def output_format(path: str) -> str:
    ext = Path(path).suffix.lower().lstrip(".")
    if ext == "gv":
        return "dot"
    if ext not in FORMATS:
        raise ValueError(f"cannot tell the graph format from {path!r}: use .svg, .png, .pdf "
                         "or .dot")
    return ext


def write_graph(dot_text: str, path: str) -> str:
    """Write the graph to ``path`` in the format its extension names; returns the format."""
    fmt = output_format(path)
    if fmt == "dot":
        write_atomic(path, dot_text.encode())
        return fmt
    if shutil.which("dot") is None:
        dot_path = str(Path(path).with_suffix(".dot"))
        write_atomic(dot_path, dot_text.encode())
        raise GraphvizMissing(
            f"Graphviz 'dot' is not installed: wrote {dot_path} instead of {path}; install "
            "Graphviz (Debian/Ubuntu: apt-get install graphviz) and run again")
    import graphviz  # imported here: only the graph needs it, and it costs start-up time

    data = graphviz.Source(dot_text).pipe(format=fmt)
    write_atomic(path, data)
    return fmt
