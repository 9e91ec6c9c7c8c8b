"""Core: a Go process's core file (ELF ``ET_CORE``, from ``gcore PID`` or a crash) read as its
memory, and the heap in it walked the way the runtime's garbage collector sees it.

``elf_core`` reads the core (its ``PT_LOAD`` segments through one mmap, its notes: threads'
registers, file mappings, build id), ``memory`` lays the program's read-only segments under the
core where the core left them out, and ``heap`` finds the runtime's ``mheap_`` by the program's
symbol table, its struct layouts by the program's DWARF (the ``names`` stage's readers), and lists
every allocated object (address, size) from the spans' allocation bits; ``pointers`` reads each
object's pointer slots as the collector does (the heap arena bitmap before Go 1.22; heap bits at
the span's end, malloc headers and ``largeType`` since, below the Green Tea GC's inline mark
bits from 1.26). The roots: ``layouts``
(the runtime's structs and globals from the program's DWARF, by dotted field path), ``globals``
(the data and BSS segments' pointer words from ``runtime.firstmoduledata``'s GC masks),
``goroutines`` (``runtime.allgs``, and each thread's m and goroutine), ``unwind`` (a goroutine's
frames from the pclntab), ``stackmaps`` (each frame's pointer slots from the pclntab's stack
maps, as the dump writes them) and ``roots`` (all of them in one call). ``index`` puts it all in
the :class:`heapspurs.scan.raw.RawScan` a dump's scan gives, for the index builder (objects'
offsets in the core file). ``specials`` reads the finalizers (the spans' specials,
the finalizer queue), defers and panics (each goroutine's chains) as the dump's records.

``itabs`` lists the itabs of ``runtime.itabTable`` as the dump's itab records
(``runtime.dumpitabs``), which type the objects held through interfaces.

A core is a source, beside the dump file at the left of the flow; it reads the program's binary
through ``names``, and nothing to its left imports it. Every error a bad input can cause is a
:class:`heapspurs.core.errors.CoreFileError` naming the file.
"""
