"""Allow ``python -m heapspurs``."""

from heapspurs.cli.main import main

main()
