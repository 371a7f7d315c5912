"""Plumbing shared by every layer: worker pools, progress bars, process lifetime."""
