"""Exit statuses and the exception for a well-formed question without an answer."""

EXIT_OK = 0
EXIT_NOT_FOUND = 1  # nothing found where the question expects something
EXIT_INPUT = 2  # usage or input error
EXIT_TOOL_MISSING = 3  # an external tool (Graphviz) is missing


class NotFound(Exception):
    """The question was well formed but has no answer in this dump (exit status 1)."""


class OutputClosed(Exception):
    """The reader of our output went away (e.g. ``| head``): end quietly, status 0."""
