"""Coverage-guided fuzzing of heapspurs' native code under AddressSanitizer + UBSan.

``bash scripts/fuzz-native.sh TARGET SECONDS`` (TARGET: dump, arrays, dwarf or all) installs
clang, the sanitizer runtimes and atheris (into .fuzz-venv), builds the three C extensions with
``-fsanitize=address,undefined,fuzzer-no-link`` into .fuzz/build, and runs libFuzzer (through
atheris) on each target with the ASan runtime preloaded. A sanitizer report, a crash or a hang
is a finding: the script prints the report, keeps the input under .fuzz/artifacts/ and exits
non-zero.

One module per target group:

- :mod:`fuzz.native.dump`: mutated heap dumps through the record scan (counting pass, filling
  pass in parts from its checkpoints, with and without address order), the --print formatter,
  and the index-level functions (resolve, reverse, gather, phantoms, listing; bfs, dominators,
  root-group labels) on the arrays the scan produced.
- :mod:`fuzz.native.arrays`: hostile index arrays (ids out of range, edge lists out of order,
  unsorted addresses, lengths that do not match) through the same index-level functions of
  _cscan and _cgraph, called directly.
- :mod:`fuzz.native.dwarf`: mutated DWARF sections (.debug_info, .debug_abbrev, .debug_str,
  .debug_addr, .debug_loc, .debug_loclists) of real Go binaries through the DIE walker, called
  the way heapspurs.names.dwarf_native calls it.

Seeds are real dumps and binaries of the test programs (tests/goprogs, built with
tests/gotools.py); they, the corpora and the logs live under .fuzz/ (not in git).
"""
