"""Stage 4: questions answered from the index: anchors, owners, reachability."""
