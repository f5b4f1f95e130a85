"""Experiments built on the engine: comparisons of methods, sweeps of one setting, grids of
tasks run here or on Ray, the fixed yardstick that scores them, and their reports. Never imports
the command line."""
