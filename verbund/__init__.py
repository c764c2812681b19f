"""Verbund: a shared NGSI-LD data platform for municipalities."""

__version__ = "0.1.0"
