"""Optimizers: the registry the engine steps (torch's L-BFGS, Adam, SGD) and the sync-free
L-BFGS used on GPUs. Imports nothing of the library but itself."""
