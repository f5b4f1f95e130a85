"""The engine: a run prepared once, one optimization loop, and the schedules above it
(multi-scale levels, tiles) that call that loop."""
