"""Stage 1: the "go1.7 heap dump" file format: each record's layout (declared once, in
``records.LAYOUTS``), its dataclass, and a streaming reader."""
