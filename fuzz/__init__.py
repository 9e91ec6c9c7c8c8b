"""Fuzzing heapspurs' parser, scans and index builder with mutated real heap dumps.

    python -m fuzz --target all --seconds 600

Seeds are small real dumps (the test programs' dumps cut down to a few hundred objects);
mutations flip bytes, make varint lengths, counts and offsets huge, cut, repeat and splice.
Oracles: only DumpFormatError may escape; the native and the Python scans agree exactly; no
input takes more than 2 s per MB; memory stays a small multiple of the input.
"""
