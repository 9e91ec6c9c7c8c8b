"""A core's itabs (heapspurs.core.itabs) are its heap dump's itab records: ``runtime.dumpitabs``
walks ``runtime.itabTable``, and so does the core reader, so the two are the same records in the
same order (the dump's writer makes no itab between its itab records and the core being taken).
And ``runtime.itabTable`` read wrong (a size that is not a power of two, a count its entries do not
have, an entry or a table the core does not hold) is one CoreFileError line."""

from __future__ import annotations

import pytest

from heapspurs.core.elf_core import open_core
from heapspurs.core.errors import CoreFileError, UnmappedAddress
from heapspurs.core.itabs import itab_records
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.core.memory import open_address_space
from heapspurs.index.load import load_index


@pytest.fixture(scope="session")
def rt(corefile_run) -> RuntimeTypes:
    return RuntimeTypes(str(corefile_run.binary))


def test_the_cores_itabs_are_the_dumps(corefile_run, rt):
    with open_core(str(corefile_run.core)) as core, \
            open_address_space(core, str(corefile_run.binary)) as space:
        core_itabs = [(i.address, i.type_address) for i in itab_records(space, rt)]
    dump = load_index(str(corefile_run.dump), use_cache=False)
    dump_itabs = [(i.address, i.type_address) for i in dump.raw.itabs]
    assert set(core_itabs) == set(dump_itabs)
    assert core_itabs == dump_itabs  # the same table walked in the same order
    # (the program converts to interfaces: more than the runtime's own few itabs)
    assert len(core_itabs) >= 10 and all(t for _, t in core_itabs)


class FakeCore:
    path = "fake.core"
    size = 1 << 30


class FakeSpace:
    """The words of a made-up itab table at TABLE, pointed at by runtime.itabTable."""

    def __init__(self, words: dict[int, int]):
        self.core = FakeCore()
        self.words = words

    def read(self, address: int, n: int) -> bytes:
        if any(address + k not in self.words for k in range(0, n, 8)):
            raise UnmappedAddress(f"fake.core: {address:#x} is not in the core")
        return b"".join(self.words[address + k].to_bytes(8, "little") for k in range(0, n, 8))

    def word(self, address: int) -> int:
        return int.from_bytes(self.read(address, 8), "little")


TABLE, ITAB, TYPE = 0x10000, 0x20000, 0x30000


def fake_space(rt: RuntimeTypes, size: int, count: int, entries: list[int],
               itabs: dict[int, int]) -> FakeSpace:
    type_field = next(rt.field(s, f) for s, f in (("internal/abi.ITab", "Type"),
                                                 ("runtime.itab", "_type"))
                      if s in rt._structs)
    words = {rt.global_var("runtime.itabTable").address: TABLE, TABLE: size, TABLE + 8: count}
    words.update({TABLE + 16 + 8 * i: e for i, e in enumerate(entries)})
    words.update({a + type_field.offset: t for a, t in itabs.items()})
    return FakeSpace(words)


def test_a_made_up_table_reads(rt):
    space = fake_space(rt, 4, 2, [0, ITAB, 0, ITAB + 64], {ITAB: TYPE, ITAB + 64: TYPE + 8})
    assert [(i.address, i.type_address) for i in itab_records(space, rt)] == [
        (ITAB, TYPE), (ITAB + 64, TYPE + 8)]


@pytest.mark.parametrize("size, count, entries, itabs, says", [
    (3, 1, [ITAB, 0, 0], {ITAB: TYPE}, "size 3"),  # not a power of two
    (4, 5, [ITAB] * 4, {ITAB: TYPE}, "count 5"),  # more than its size
    (4, 2, [ITAB, 0, 0, 0], {ITAB: TYPE}, "holds 1"),  # fewer than its count
    (4, 1, [ITAB, 0], {ITAB: TYPE}, "not all in the core"),  # entries cut short
    (4, 1, [0, ITAB, 0, 0], {}, "entry 1 points at"),  # an itab the core does not hold
    (1 << 40, 0, [], {}, "size"),  # larger than the core
])
def test_a_corrupt_table_is_one_line(rt, size, count, entries, itabs, says):
    with pytest.raises(CoreFileError) as e:
        itab_records(fake_space(rt, size, count, entries, itabs), rt)
    assert says in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_a_table_pointer_the_core_does_not_hold_is_one_line(rt):
    space = FakeSpace({rt.global_var("runtime.itabTable").address: TABLE})
    with pytest.raises(CoreFileError, match="runtime.itabTable points at"):
        itab_records(space, rt)
