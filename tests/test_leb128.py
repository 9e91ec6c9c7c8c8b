"""The binary's LEB128 numbers: decoded as the native DWARF reader does, lenient at the end."""

from heapspurs.names.leb128 import sleb128, uleb128


def test_uleb128():
    assert uleb128(b"\xe5\x8e\x26", 0) == (624485, 3)
    assert uleb128([0x7F, 0x01], 1) == (1, 2)
    assert uleb128(b"\x80\x80", 0) == (0, 2)  # cut short: the bytes there, stopped at the end
    assert uleb128(b"", 0) == (0, 0)
    assert uleb128(b"\xff" * 12 + b"\x01", 0, limit=10) == ((1 << 70) - 1, 10)


def test_sleb128():
    assert sleb128(b"\xc0\xbb\x78", 0) == (-123456, 3)
    assert sleb128(b"\x7f", 0) == (-1, 1)
    assert sleb128(b"\x3f", 0) == (63, 1)
    assert sleb128(b"\xc0", 0) == (-64, 1)  # cut short: the last byte read gives the sign
    assert sleb128(b"", 0) == (0, 0)
