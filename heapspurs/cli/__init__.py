"""Stage 6: the command line (click); each option is a thin call into analysis and render."""
