"""Names: everything that turns an address into words (ELF symbols, object ids from an OID file,
and later types and allocation sites), attached to the index, never baked into the parser."""
