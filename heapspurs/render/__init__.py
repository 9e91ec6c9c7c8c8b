"""Stage 5: turning answers into text in the original tool's formats, JSON, graphs and pprof."""
