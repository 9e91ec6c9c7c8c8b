"""Go's malloc size classes (the same table from Go 1.21 to 1.27): bytes per object of each."""

from __future__ import annotations

import bisect

# Bytes per object of each size class, class 1 to 67 (runtime sizeclasses.go).
CLASS_SIZES = (
    8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320,
    352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
    2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472,
    9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264,
    28672, 32768,
)
PAGE_SIZE = 8192


def rounded_size(n: int) -> int:
    """The slot size the allocator gives a request of ``n`` bytes (large objects: whole pages)."""
    if n <= CLASS_SIZES[-1]:
        return CLASS_SIZES[bisect.bisect_left(CLASS_SIZES, max(n, 1))]
    return -(-n // PAGE_SIZE) * PAGE_SIZE
