"""Analyses beside the probes: CCA, t-SNE, speaker verification, classification probes."""
