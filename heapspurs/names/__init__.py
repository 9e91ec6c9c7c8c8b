"""Names: everything that turns an address into words — ELF symbols (``elf_binary``), object ids
from an OID file (``oids``), Go types from the binary's DWARF (``dwarf_types``: the native walker
``dwarf_native`` over ``_cdwarf.c``, checked against ``dwarf_reference`` on pyelftools) and the
heap typed from them (``typing``, ``type_layouts``), allocation sites (``alloc_sites``) —
attached to the index, never baked into the parser."""
