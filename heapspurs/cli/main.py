"""The ``heapspurs`` command: the original tool's flags, each a thin call into one analysis.

Exit status: 0 answered; 1 nothing found where the question expects something (e.g. no object at
that address); 2 usage or input error (a malformed dump, a missing file, a bad option); 3 an
external tool is missing (Graphviz).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from heapspurs.cli.errors import (
    EXIT_INPUT,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_TOOL_MISSING,
    NotFound,
    OutputClosed,
)
from heapspurs.format.errors import DumpFormatError
from heapspurs.index.budget import Budget, parse_budget
from heapspurs.render.files import UnsafeOutput
from heapspurs.render.graph_file import GraphvizMissing

if TYPE_CHECKING:
    from heapspurs.cli import commands


def parse_address(text: str) -> int:
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(text, 16)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a hex address", param_hint="--address") from None


class DumpSource(click.Path):
    """A dump file, or the URL of a dump (http://host:port/debug/heapdump)."""

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
        return super().convert(value, param, ctx)


EPILOG = """\b
Exit status: 0 answered; 1 nothing found (e.g. no object at --address);
2 usage or input error; 3 an external tool (Graphviz) is missing.
"""


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.argument("dump", required=False, type=DumpSource(exists=True, dir_okay=True, path_type=str))
@click.option("--print", "print_records", is_flag=True,
              help="Print every record of the dump in file order.")
@click.option("--address", "-a", metavar="ADDR",
              help="The object to ask about (hex); an address inside an object selects it.")
@click.option("--anchors", is_flag=True,
              help="List the roots that keep --address alive, each with one shortest path.")
@click.option("--owners", type=int, metavar="N",
              help="Print who points at --address, N levels up (-1: up to the roots).")
@click.option("--hexdump", is_flag=True,
              help="Hex dump of the object (or stack frame) at --address and its pointer slots.")
@click.option("--json", "as_json", is_flag=True, help="Answer in JSON (for scripts).")
@click.option("--phantoms", is_flag=True,
              help="Include phantom objects (the reserved tail of small-object spans).")
@click.option("--conservative", is_flag=True,
              help="With --anchors: also scan every word of stack frames for pointers "
                   "(finds objects held only by address-taken locals; may over-report).")
@click.option("--output", "-o", default="heapdump.svg", show_default=True, metavar="FILE",
              help="Where --address alone writes the graph; .svg, .png, .pdf or .dot.")
@click.option("--max-nodes", type=click.IntRange(min=1), default=200, show_default=True,
              help="Node budget of the graph: above it, only each anchor's shortest path.")
@click.option("--all-owners", is_flag=True,
              help="Graph: also draw owners that reach the object only through itself.")
@click.option("--top", "top_count", type=click.IntRange(min=1), metavar="N",
              help="The N largest retained sizes (objects and roots), with their paths.")
@click.option("--suspects", is_flag=True,
              help="Leak suspects: big retainers, where their memory piles up, finalizer cycles.")
@click.option("--threshold", type=click.FloatRange(0, 100), default=10.0, show_default=True,
              metavar="PERCENT", help="--suspects: the share of the reachable heap that counts.")
@click.option("--retained", "show_retained", is_flag=True,
              help="With --address: its retained size and the objects it dominates.")
@click.option("--unreachable", is_flag=True,
              help="Objects no root reaches, counted by name or size class.")
@click.option("--histogram", is_flag=True,
              help="Every object counted by name, type or allocation site (else size "
                   "class): count and bytes.")
@click.option("--goroutines", is_flag=True,
              help="Goroutines grouped by identical stacks, with the bytes they retain.")
@click.option("--base", metavar="OLD_DUMP", type=click.Path(exists=True, dir_okay=False),
              help="What grew since OLD_DUMP (same program), by name, allocation site or size.")
@click.option("--pprof", "pprof_out", metavar="OUT.pb.gz",
              help="Write the heap as a pprof profile (go tool pprof -http=: OUT.pb.gz).")
@click.option("--stacks", is_flag=True,
              help="--histogram, --base, --unreachable, --suspects: count objects known by "
                   "their allocation site by their whole allocation stack instead.")
@click.option("--program", metavar="BINARY", type=click.Path(dir_okay=False),
              help="The Go program that wrote the dump (ELF): names globals and functions, "
                   "types objects from its DWARF.")
@click.option("--oid", metavar="FILE", type=click.Path(dir_okay=False),
              help="Object ids: lines 'ID NAME'; an object whose first word is ID is NAME.")
@click.option("--find", "--search", "find_pattern", metavar="REGEX",
              help="Print the objects whose name (--oid), type (--program) or allocation "
                   "site matches REGEX.")
@click.option("--strict", is_flag=True,
              help="Fail (exit 2) when --program does not match the dump, instead of warning.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the on-disk index cache.")
@click.option("--memory", "memory", metavar="SIZE",
              help="Memory to spend building the index (e.g. 1500M, 4GiB; default: half of "
                   "the physical memory, at most what is free): a dump over it is indexed in "
                   "files on disk, in passes.")
@click.option("--http", "http", metavar="[HOST]:PORT",
              help="Explore the heap in a browser: serve pages and a JSON API on HOST "
                   "(default 127.0.0.1) and PORT (:0 picks a free one) until Ctrl-C.")
@click.option("--no-browser", is_flag=True, help="--http: do not open a browser.")
@click.option("--save", metavar="FILE",
              help="DUMP is a URL: also keep the downloaded dump as FILE.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              metavar="SECONDS", help="DUMP is a URL: give up when it does not answer this fast.")
@click.option("--cache-info", is_flag=True,
              help="Show the index cache folder, its size cap and the dumps in it (no DUMP).")
@click.option("--cache-clear", is_flag=True, help="Empty the index cache folder (no DUMP).")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=lambda ctx, param, value: show_version(ctx, param, value),
              help="Show the version, Python, numpy and which native extensions are in use.")
@click.pass_context
def cli(ctx: click.Context, dump: str | None, print_records: bool, address: str | None,
        anchors: bool, owners: int | None, hexdump: bool, as_json: bool, phantoms: bool,
        conservative: bool, output: str,
        max_nodes: int, all_owners: bool, top_count: int | None, suspects: bool,
        threshold: float, show_retained: bool, unreachable: bool, histogram: bool,
        goroutines: bool, base: str | None, pprof_out: str | None, program: str | None,
        stacks: bool, oid: str | None, find_pattern: str | None, strict: bool,
        no_cache: bool, memory: str | None, http: str | None, no_browser: bool,
        save: str | None, timeout: float, cache_info: bool, cache_clear: bool) -> None:
    """Analyze a Go heap dump written by runtime/debug.WriteHeapDump, or a Go program's core
    file (with --program).

    \b
      heapspurs dump.bin --print | grep ...
      heapspurs dump.bin --address 0xc000019680 --anchors
      heapspurs dump.bin --address 0xc000019680 --owners 2
      heapspurs dump.bin --address 0xc0004821a0 --hexdump
      heapspurs dump.bin --address 0xc000019680        # writes heapdump.svg
      heapspurs --program ./server dump.bin --address 0xc000019680 --anchors
      heapspurs --oid oid.txt dump.bin --find 'WebrtcSource'
      heapspurs dump.bin --top 20        # what holds most of the memory
      heapspurs dump.bin --suspects      # leak suspects
      heapspurs dump.bin --goroutines    # goroutines by stack, with what they retain
      heapspurs new.bin --base old.bin   # what grew
      heapspurs dump.bin --http :8080    # explore it in a browser
      heapspurs --program ./server http://127.0.0.1:6060/debug/heapdump --top 20
      heapspurs --program ./server core.1234 --top 20   # a core file (gcore PID)
      heapspurs big.dump --memory 1500M --top 20        # index within 1.5 GB of memory
      heapspurs dump.bin --pprof heap.pb.gz
      heapspurs --cache-info             # the index cache (--cache-clear empties it)
    """
    from heapspurs.cli.commands import Options
    from heapspurs.cli.questions import asked

    question = asked(given_options(ctx), lambda name: option_name(ctx, name), as_json)
    if question[0] in ("cache_info", "cache_clear"):
        from heapspurs.cli import about

        if dump is not None:
            raise click.UsageError(f"{option_name(ctx, question[0])} takes no DUMP")
        (about.cache_info if question[0] == "cache_info" else about.cache_clear)(as_json)
        return
    if dump is None:
        raise click.UsageError("Missing argument 'DUMP'.")
    dump = resolve_dump(ctx, dump, save, timeout, not no_cache,
                        [f for f in (program, oid, base) if f])
    if question[0] == "http":
        from heapspurs.serve.server import serve

        if base is not None and os.path.samefile(base, dump):
            raise click.UsageError("--base is the dump itself")
        memory_budget(memory)  # (a bad --memory is a usage error before the server starts)
        serve(dump, http or "", program, oid, base, not no_cache, not no_browser, memory)
        return
    options = Options(phantoms=phantoms, conservative=conservative, use_cache=not no_cache,
                      as_json=as_json, program=program, oid=oid, strict=strict,
                      stacks=stacks, budget=memory_budget(memory))
    try:
        census = Census(top_count, suspects, threshold / 100.0, show_retained, unreachable,
                        histogram, goroutines, base, pprof_out)
        run_command(dump, question, address, owners, output, max_nodes, all_owners,
                    find_pattern, census, options)
    except BrokenPipeError:
        raise OutputClosed from None  # click would turn EPIPE into exit status 1


def memory_budget(text: str | None) -> Budget:
    """--memory's budget, or the default one."""
    if text is None:
        return Budget.default()
    try:
        return Budget(parse_budget(text), explicit=True)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--memory") from None


def resolve_dump(ctx: click.Context, dump: str, save: str | None, timeout: float,
                 use_cache: bool, inputs: list[str]) -> str:
    """The local path of DUMP: a URL is downloaded first (heapspurs.cli.fetch)."""
    from heapspurs.cli.fetch import fetch, is_url

    given = set(given_options(ctx))
    if not is_url(dump):
        for option in ("save", "timeout"):
            if option in given:
                raise click.UsageError(f"{option_name(ctx, option)} goes with a DUMP that is a "
                                       "URL")
        return dump
    if save:
        from heapspurs.render.files import check_not_input, check_writable

        check_not_input(save, inputs)
        check_writable(save)
    return fetch(dump, use_cache, timeout, save)


def show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    from heapspurs.cli import about  # numpy and the extensions: only when asked

    about.show_version(ctx, param, value)


def given_options(ctx: click.Context) -> list[str]:
    """The parameters set on the command line (not left at their defaults)."""
    from click.core import ParameterSource

    return [name for name in ctx.params
            if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT,
                                                      ParameterSource.DEFAULT_MAP)]


def option_name(ctx: click.Context, name: str) -> str:
    """The option as users write it: ``top_count`` -> ``--top``."""
    for param in ctx.command.params:
        if param.name == name:
            return next((o for o in param.opts if o.startswith("--")), param.opts[0])
    return name


@dataclass
class Census:
    """The whole-heap questions (retention and counts)."""

    top: int | None = None
    suspects: bool = False
    threshold: float = 0.10
    retained: bool = False
    unreachable: bool = False
    histogram: bool = False
    goroutines: bool = False
    base: str | None = None
    pprof: str | None = None


def run_command(dump: str, question: list[str], address: str | None, owners: int | None,
                output: str, max_nodes: int, all_owners: bool, find_pattern: str | None,
                census: Census, options: commands.Options) -> None:
    """Answer the one ``question`` (see heapspurs.cli.questions.asked)."""
    from heapspurs.cli import commands

    if os.path.isdir(dump):
        raise DumpFormatError("not a Go heap dump: it is a directory", path=dump)
    for given in (options.program, options.oid):
        if given and os.path.exists(given) and os.path.samefile(given, dump):
            raise click.UsageError(f"{given} is the dump itself")
    if census.base is not None and os.path.samefile(census.base, dump):
        raise click.UsageError("--base is the dump itself")
    q = question[0]
    if q == "print_records":
        commands.print_dump(dump, options)
    elif q == "find_pattern":
        commands.find(dump, find_pattern or "", options)
    elif q == "summary":
        commands.summary(dump, options)
    elif q == "graph":
        commands.graph(dump, parse_address(address or ""), output, max_nodes, all_owners,
                       options)
    elif q in ("show_retained", "hexdump", "anchors", "owners"):
        object_questions(dump, parse_address(address or ""), question, owners, options)
    else:
        whole_heap(dump, q, census, options)


def whole_heap(dump: str, question: str, census: Census, options: commands.Options) -> None:
    """One of the whole-heap questions (imported only then: faster start-up for the rest)."""
    from heapspurs.cli import census as census_cmds

    if question == "top_count":
        census_cmds.top(dump, census.top or 0, options)
    elif question == "suspects":
        census_cmds.suspects(dump, census.threshold, options)
    elif question == "histogram":
        census_cmds.histogram(dump, options)
    elif question == "unreachable":
        census_cmds.unreachable(dump, options)
    elif question == "goroutines":
        census_cmds.goroutines(dump, options)
    elif question == "base":
        census_cmds.base_diff(dump, census.base or "", options)
    elif question == "pprof_out":
        census_cmds.pprof(dump, census.pprof or "", options)


def object_questions(dump: str, addr: int, asked: list[str], depth: int | None,
                     options: commands.Options) -> None:
    """--retained, --hexdump, --anchors, --owners of one object, in that order; with --json
    their answers merged into one document."""
    from heapspurs.cli import commands

    if options.as_json and len(asked) > 1:
        options.merged = {}
    if "show_retained" in asked:
        from heapspurs.cli import census as census_cmds

        census_cmds.retained(dump, addr, 20, options)
    if "hexdump" in asked:
        commands.hexdump(dump, addr, options)
    if "anchors" in asked:
        commands.anchors(dump, addr, options)
    if "owners" in asked:
        commands.owners(dump, addr, depth if depth is not None else 1, options)
    if options.merged is not None:
        merged, options.merged = options.merged, None
        commands.emit_json(merged)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command, turning known failures into one line and an exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        cli.main(args=args, prog_name="heapspurs", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_INPUT)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(130)
    except DumpFormatError as e:
        click.echo(f"heapspurs: {e.path or 'the dump'}: {e}", err=True)
        sys.exit(EXIT_INPUT)
    except (UnsafeOutput, ValueError) as e:
        click.echo(f"heapspurs: {e}", err=True)
        sys.exit(EXIT_INPUT)
    except GraphvizMissing as e:
        click.echo(f"heapspurs: {e}", err=True)
        sys.exit(EXIT_TOOL_MISSING)
    except NotFound as e:
        click.echo(f"heapspurs: {e}", err=True)
        sys.exit(EXIT_NOT_FOUND)
    except (BrokenPipeError, OutputClosed):
        # The reader of our output went away (e.g. `| head`): end quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_OK)
    except OSError as e:  # a file we were given or asked to write cannot be used
        where = f"{e.filename}: " if e.filename else ""
        click.echo(f"heapspurs: {where}{e.strerror or e}", err=True)
        sys.exit(EXIT_INPUT)
    except KeyboardInterrupt:
        sys.exit(130)
