"""Losses: the content and total-variation terms, the style losses (a registry), masks and
edges; each loss computes its target once and keeps it as a buffer."""
