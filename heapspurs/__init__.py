"""heapspurs: what is this object in a Go heap dump, what keeps it alive, what holds memory."""

__version__ = "0.1.0"
