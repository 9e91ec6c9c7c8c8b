"""The explorer: heapspurs DUMP --http [HOST]:PORT serves the heap to a browser."""
