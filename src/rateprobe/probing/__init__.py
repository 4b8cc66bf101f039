"""Probes of pooled activations: ridge and MLP regression with speaker-bootstrap intervals."""
