"""Stage 4: questions answered from the index: anchors, owners, reachability, dominators and
retained sizes, histograms, goroutine groups, diffs, --find; the graph walks in ``_cgraph.c``."""
