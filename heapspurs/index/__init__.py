"""Stage 3: the heap index: objects by address, resolved pointer edges, roots (numpy arrays)."""
