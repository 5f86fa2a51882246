"""Landscape layer (work in progress)."""
