"""Stage 1: the "go1.7 heap dump" file format: record types and a streaming reader."""
