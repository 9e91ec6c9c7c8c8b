"""Stage 2: one pass over the dump that yields the raw arrays the index is built from."""
