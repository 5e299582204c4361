"""Egress Cost Optimizer."""

__version__ = "0.1.0"
