"""The errors of the core stage: a core file, or the program given with it, that cannot be
read. Each message is one line and names the file."""

from __future__ import annotations


class CoreFileError(ValueError):
    """A core file cannot be used: not an ELF core, not x86-64, truncated, not of a Go program,
    not of the program given; the message names the file and says what it is."""


class UnmappedAddress(CoreFileError):
    """An address the walk needs is in no segment of the core (nor in the program's read-only
    segments): a corrupt pointer, a truncated core, or a core of another program."""
