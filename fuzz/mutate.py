"""Mutations of a dump's bytes, chosen by a seeded random generator (reproducible)."""

from __future__ import annotations

import random

HUGE = [b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\xff\xff\xff\xff\x0f",
        b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", b"\xff\xff\xff\x7f"]


def mutate(data: bytes, rng: random.Random, other: bytes | None = None) -> bytes:
    """One to four random edits of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            out = bytearray(b"go1.7 heap dump\n")
        kind = rng.randrange(9)
        at = rng.randrange(len(out))
        if kind == 0:  # flip bits
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1:  # a random byte
            out[at] = rng.randrange(256)
        elif kind == 2:  # a huge varint (length, count, offset) in place of a byte or two
            out[at : at + rng.randint(1, 3)] = rng.choice(HUGE)
        elif kind == 3:  # cut
            del out[at:]
        elif kind == 4:  # delete a slice
            del out[at : at + rng.randint(1, 64)]
        elif kind == 5:  # repeat a slice
            n = rng.randint(1, 256)
            out[at:at] = out[at : at + n] * rng.randint(1, 8)
        elif kind == 6:  # insert zeros (a fieldlist that never ends has no 0 terminator)
            out[at:at] = b"\x00" * rng.randint(1, 32)
        elif kind == 7 and other:  # splice with another input
            j = rng.randrange(len(other))
            out[at:] = other[j : j + rng.randint(1, 4096)]
        else:  # a small varint
            out[at : at + 1] = bytes([rng.randrange(128)])
    return bytes(out)
