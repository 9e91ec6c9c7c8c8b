"""The errors of the names stage: a bad binary or OID file given on the command line."""

from __future__ import annotations


class NamesInputError(ValueError):
    """An input file for naming (``--program`` binary, ``--oid`` file) cannot be used."""


class BinaryError(NamesInputError):
    """The ``--program`` file is not a usable ELF binary (or does not belong to the dump)."""


class OidFileError(NamesInputError):
    """The ``--oid`` file is malformed; the message names the line."""
